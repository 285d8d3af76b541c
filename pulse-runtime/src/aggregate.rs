//! Incremental aggregates over a window's elements, combinable in tuples.

use std::collections::HashSet;
use std::hash::Hash;
use std::ops::Add;

use crate::state::StateValue;

/// An incremental aggregate: `init`, `add` each element, `merge` two partial results (session
/// windows merge), and `result` when the window fires.
///
/// # Examples
/// A user-defined aggregate that keeps the longest string:
/// ```
/// use pulse_runtime::aggregate::Aggregate;
/// struct Longest;
/// impl Aggregate<String> for Longest {
///     type Acc = String;
///     type Out = String;
///     fn init(&self) -> String { String::new() }
///     fn add(&self, acc: &mut String, x: &String, _ts: i64) {
///         if x.len() > acc.len() { *acc = x.clone() }
///     }
///     fn merge(&self, acc: &mut String, other: String) { self.add(acc, &other, 0) }
///     fn result(&self, acc: &String) -> String { acc.clone() }
/// }
/// let mut acc = Longest.init();
/// Longest.add(&mut acc, &"ab".to_string(), 0);
/// Longest.add(&mut acc, &"abc".to_string(), 1);
/// assert_eq!(Longest.result(&acc), "abc");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an aggregate over `{T}`",
    label = "not an aggregate of this stream's elements",
    note = "use `Count`, `Sum(|x: &T| ..)`, `Min`, `Max`, `Avg`, `Distinct`, `First`, `Last`, `Reduce`, `Fold`, a tuple of them, or implement `pulse::Aggregate`",
    note = "closures inside aggregates need their parameter type written out: `Sum(|b: &Bid| b.price)`"
)]
pub trait Aggregate<T> {
    /// The running state of one window.
    type Acc: StateValue;
    /// What the window emits.
    type Out;
    /// The state of an empty window.
    fn init(&self) -> Self::Acc;
    /// Folds one element (with its timestamp) into the state.
    fn add(&self, acc: &mut Self::Acc, x: &T, ts: i64);
    /// Merges `other` into `acc` (used when session windows merge).
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc);
    /// The window's result.
    fn result(&self, acc: &Self::Acc) -> Self::Out;
}

/// Counts elements.
#[derive(Clone, Copy, Debug, Default)]
pub struct Count;

impl<T> Aggregate<T> for Count {
    type Acc = u64;
    type Out = u64;
    fn init(&self) -> u64 {
        0
    }
    #[inline(always)]
    fn add(&self, acc: &mut u64, _: &T, _: i64) {
        *acc += 1
    }
    fn merge(&self, acc: &mut u64, other: u64) {
        *acc += other
    }
    fn result(&self, acc: &u64) -> u64 {
        *acc
    }
}

/// Sums a numeric field: `Sum(|b: &Bid| b.price)`.
#[derive(Clone, Copy, Debug)]
pub struct Sum<F>(pub F);

impl<T, V, F> Aggregate<T> for Sum<F>
where
    F: Fn(&T) -> V,
    V: Add<Output = V> + Default + Copy + StateValue,
{
    type Acc = V;
    type Out = V;
    fn init(&self) -> V {
        V::default()
    }
    #[inline(always)]
    fn add(&self, acc: &mut V, x: &T, _: i64) {
        *acc = *acc + (self.0)(x)
    }
    fn merge(&self, acc: &mut V, other: V) {
        *acc = *acc + other
    }
    fn result(&self, acc: &V) -> V {
        *acc
    }
}

/// The smallest value of a field: `Min(|r: &Reading| r.temp)`.
#[derive(Clone, Copy, Debug)]
pub struct Min<F>(pub F);

/// The largest value of a field: `Max(|r: &Reading| r.temp)`.
#[derive(Clone, Copy, Debug)]
pub struct Max<F>(pub F);

macro_rules! extremum {
    ($name:ident, $keep:tt) => {
        impl<T, V, F> Aggregate<T> for $name<F>
        where
            F: Fn(&T) -> V,
            V: PartialOrd + Clone + StateValue,
        {
            type Acc = Option<V>;
            type Out = V;
            fn init(&self) -> Option<V> {
                None
            }
            #[inline(always)]
            fn add(&self, acc: &mut Option<V>, x: &T, _: i64) {
                let v = (self.0)(x);
                let replace = match acc {
                    Some(a) => v $keep *a,
                    None => true,
                };
                if replace {
                    *acc = Some(v);
                }
            }
            fn merge(&self, acc: &mut Option<V>, other: Option<V>) {
                match (acc.as_ref(), other) {
                    (Some(a), Some(b)) if b $keep *a => *acc = Some(b),
                    (None, b) => *acc = b,
                    _ => {}
                }
            }
            fn result(&self, acc: &Option<V>) -> V {
                acc.clone().expect("a window holds at least one element")
            }
        }
    };
}
extremum!(Min, <);
extremum!(Max, >);

/// A number that can be averaged.
pub trait AsF64: Copy {
    /// The value as `f64`.
    fn as_f64(self) -> f64;
}
macro_rules! as_f64 {
    ($($t:ty),*) => { $(impl AsF64 for $t { #[inline(always)] fn as_f64(self) -> f64 { self as f64 } })* };
}
as_f64!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, usize, isize);

/// The arithmetic mean of a numeric field, as `f64`: `Avg(|r: &Reading| r.temp)`.
#[derive(Clone, Copy, Debug)]
pub struct Avg<F>(pub F);

impl<T, V: AsF64, F: Fn(&T) -> V> Aggregate<T> for Avg<F> {
    type Acc = (f64, u64);
    type Out = f64;
    fn init(&self) -> (f64, u64) {
        (0.0, 0)
    }
    #[inline(always)]
    fn add(&self, acc: &mut (f64, u64), x: &T, _: i64) {
        acc.0 += (self.0)(x).as_f64();
        acc.1 += 1;
    }
    fn merge(&self, acc: &mut (f64, u64), other: (f64, u64)) {
        acc.0 += other.0;
        acc.1 += other.1;
    }
    fn result(&self, acc: &(f64, u64)) -> f64 {
        if acc.1 == 0 {
            0.0
        } else {
            acc.0 / acc.1 as f64
        }
    }
}

/// The exact number of distinct values of a field: `Distinct(|c: &Click| c.page.clone())`.
#[derive(Clone, Copy, Debug)]
pub struct Distinct<F>(pub F);

impl<T, V, F> Aggregate<T> for Distinct<F>
where
    F: Fn(&T) -> V,
    V: Hash + Eq + StateValue,
{
    type Acc = HashSet<V>;
    type Out = u64;
    fn init(&self) -> HashSet<V> {
        HashSet::new()
    }
    #[inline(always)]
    fn add(&self, acc: &mut HashSet<V>, x: &T, _: i64) {
        acc.insert((self.0)(x));
    }
    fn merge(&self, acc: &mut HashSet<V>, other: HashSet<V>) {
        acc.extend(other)
    }
    fn result(&self, acc: &HashSet<V>) -> u64 {
        acc.len() as u64
    }
}

/// The field of the element with the earliest event time (ties: the first to arrive).
#[derive(Clone, Copy, Debug)]
pub struct First<F>(pub F);

/// The field of the element with the latest event time (ties: the last to arrive).
#[derive(Clone, Copy, Debug)]
pub struct Last<F>(pub F);

macro_rules! by_time {
    ($name:ident, $replace:tt) => {
        impl<T, V, F> Aggregate<T> for $name<F>
        where
            F: Fn(&T) -> V,
            V: Clone + StateValue,
        {
            type Acc = Option<(i64, V)>;
            type Out = V;
            fn init(&self) -> Self::Acc {
                None
            }
            #[inline(always)]
            fn add(&self, acc: &mut Self::Acc, x: &T, ts: i64) {
                match acc {
                    Some((t, _)) if !(ts $replace *t) => {}
                    _ => *acc = Some((ts, (self.0)(x))),
                }
            }
            fn merge(&self, acc: &mut Self::Acc, other: Self::Acc) {
                match (acc.as_ref(), other) {
                    (Some((t, _)), Some(b)) if b.0 $replace *t => *acc = Some(b),
                    (None, b) => *acc = b,
                    _ => {}
                }
            }
            fn result(&self, acc: &Self::Acc) -> V {
                acc.as_ref().expect("a window holds at least one element").1.clone()
            }
        }
    };
}
by_time!(First, <);
by_time!(Last, >=);

/// Combines elements pairwise: `Reduce(|a: &Bid, b: &Bid| if a.price >= b.price { a.clone() } else { b.clone() })`.
#[derive(Clone, Copy, Debug)]
pub struct Reduce<F>(pub F);

impl<T, F> Aggregate<T> for Reduce<F>
where
    F: Fn(&T, &T) -> T,
    T: Clone + StateValue,
{
    type Acc = Option<T>;
    type Out = T;
    fn init(&self) -> Option<T> {
        None
    }
    #[inline(always)]
    fn add(&self, acc: &mut Option<T>, x: &T, _: i64) {
        *acc = Some(match acc.take() {
            Some(a) => (self.0)(&a, x),
            None => x.clone(),
        })
    }
    fn merge(&self, acc: &mut Option<T>, other: Option<T>) {
        if let Some(b) = other {
            self.add(acc, &b, 0)
        }
    }
    fn result(&self, acc: &Option<T>) -> T {
        acc.clone().expect("a window holds at least one element")
    }
}

/// A fold with an initial value, a step and a merge (sessions merge partial folds):
/// `Fold(Vec::new(), |acc: &mut Vec<u64>, b: &Bid| acc.push(b.price), |a: &mut Vec<u64>, b| a.extend(b))`.
#[derive(Clone, Copy, Debug)]
pub struct Fold<I, F, M>(pub I, pub F, pub M);

impl<T, I, F, M> Aggregate<T> for Fold<I, F, M>
where
    I: Clone + StateValue,
    F: Fn(&mut I, &T),
    M: Fn(&mut I, I),
{
    type Acc = I;
    type Out = I;
    fn init(&self) -> I {
        self.0.clone()
    }
    #[inline(always)]
    fn add(&self, acc: &mut I, x: &T, _: i64) {
        (self.1)(acc, x)
    }
    fn merge(&self, acc: &mut I, other: I) {
        (self.2)(acc, other)
    }
    fn result(&self, acc: &I) -> I {
        acc.clone()
    }
}

macro_rules! tuple_aggregate {
    ($(($A:ident, $i:tt)),+) => {
        impl<T, $($A: Aggregate<T>),+> Aggregate<T> for ($($A,)+) {
            type Acc = ($($A::Acc,)+);
            type Out = ($($A::Out,)+);
            fn init(&self) -> Self::Acc {
                ($(self.$i.init(),)+)
            }
            #[inline(always)]
            fn add(&self, acc: &mut Self::Acc, x: &T, ts: i64) {
                $(self.$i.add(&mut acc.$i, x, ts);)+
            }
            fn merge(&self, acc: &mut Self::Acc, other: Self::Acc) {
                $(self.$i.merge(&mut acc.$i, other.$i);)+
            }
            fn result(&self, acc: &Self::Acc) -> Self::Out {
                ($(self.$i.result(&acc.$i),)+)
            }
        }
    };
}
tuple_aggregate!((A, 0));
tuple_aggregate!((A, 0), (B, 1));
tuple_aggregate!((A, 0), (B, 1), (C, 2));
tuple_aggregate!((A, 0), (B, 1), (C, 2), (D, 3));
tuple_aggregate!((A, 0), (B, 1), (C, 2), (D, 3), (E, 4));
tuple_aggregate!((A, 0), (B, 1), (C, 2), (D, 3), (E, 4), (G, 5));

#[cfg(test)]
mod tests {
    use super::*;

    fn run<A: Aggregate<i64>>(a: &A, xs: &[(i64, i64)]) -> A::Out {
        let mut acc = a.init();
        for &(x, ts) in xs {
            a.add(&mut acc, &x, ts);
        }
        a.result(&acc)
    }

    fn split<A: Aggregate<i64>>(a: &A, xs: &[(i64, i64)], at: usize) -> A::Out {
        let (l, r) = xs.split_at(at);
        let (mut x, mut y) = (a.init(), a.init());
        l.iter().for_each(|&(v, t)| a.add(&mut x, &v, t));
        r.iter().for_each(|&(v, t)| a.add(&mut y, &v, t));
        a.merge(&mut x, y);
        a.result(&x)
    }

    const XS: [(i64, i64); 5] = [(5, 30), (1, 10), (7, 50), (1, 20), (3, 40)];

    #[test]
    fn builtins() {
        assert_eq!(run(&Count, &XS), 5);
        assert_eq!(run(&Sum(|x: &i64| *x), &XS), 17);
        assert_eq!(run(&Min(|x: &i64| *x), &XS), 1);
        assert_eq!(run(&Max(|x: &i64| *x), &XS), 7);
        assert_eq!(run(&Avg(|x: &i64| *x), &XS), 3.4);
        assert_eq!(run(&Distinct(|x: &i64| *x), &XS), 4);
        assert_eq!(run(&First(|x: &i64| *x), &XS), 1, "earliest ts is 10");
        assert_eq!(run(&Last(|x: &i64| *x), &XS), 7, "latest ts is 50");
        assert_eq!(
            run(&Reduce(|a: &i64, b: &i64| a * 10 + b), &[(1, 0), (2, 0)]),
            12
        );
        let fold = Fold(
            0i64,
            |a: &mut i64, x: &i64| *a += x * x,
            |a: &mut i64, b| *a += b,
        );
        assert_eq!(run(&fold, &XS), 85);
        assert_eq!(run(&(Count, Sum(|x: &i64| *x)), &XS), (5, 17));
    }

    #[test]
    fn merge_equals_single_pass() {
        for at in 0..=XS.len() {
            assert_eq!(split(&Count, &XS, at), 5);
            assert_eq!(split(&Max(|x: &i64| *x), &XS, at), 7);
            assert_eq!(split(&Min(|x: &i64| *x), &XS, at), 1);
            assert_eq!(split(&First(|x: &i64| *x), &XS, at), 1);
            assert_eq!(split(&Last(|x: &i64| *x), &XS, at), 7);
            assert_eq!(split(&Distinct(|x: &i64| *x), &XS, at), 4);
            assert_eq!(split(&(Avg(|x: &i64| *x), Count), &XS, at), (3.4, 5));
        }
    }
}
