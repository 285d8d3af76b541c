//! Key order for a firing window: a radix sort when the key is an integer, the standard
//! comparison sort otherwise.
//!
//! A window fires its keys in key order, so that every run writes the same rows in the same
//! order. Sorting is the largest cost of a firing: tens of thousands of keys every window. Most
//! keys are integers (ids), and an integer key sorts by its bits in a few linear passes.

use std::any::Any;

/// Below this many rows the comparison sort is as fast.
const RADIX_MIN: usize = 64;

/// The buffers of the radix sort, kept between firings.
#[derive(Default)]
pub(crate) struct KeyOrder {
    /// Keys within 2^32 of each other: each row as one `u64`, its key's offset from the smallest
    /// above its index.
    packed: Vec<u64>,
    packed_tmp: Vec<u64>,
    /// Other integer keys: (key, index) pairs.
    order: Vec<(u64, u32)>,
    tmp: Vec<(u64, u32)>,
}

impl KeyOrder {
    /// Calls `f` with every row of `rows` in key order, and leaves `rows` empty.
    pub(crate) fn drain_sorted<K: Ord + Clone + 'static, V>(
        &mut self,
        rows: &mut Vec<(K, V)>,
        mut f: impl FnMut(K, &V),
    ) {
        let radix = rows.len() >= RADIX_MIN
            && u32::try_from(rows.len()).is_ok()
            && rows.first().is_some_and(|(k, _)| as_u64(k).is_some());
        if !radix {
            rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            for (k, v) in rows.drain(..) {
                f(k, &v);
            }
            return;
        }
        let key = |k: &K| as_u64(k).unwrap_or_default();
        // An integer key: the clone is a copy.
        let mut emit = |i: usize| {
            let (k, v) = &rows[i];
            f(k.clone(), v);
        };
        let (lo, hi) = rows.iter().fold((u64::MAX, 0), |(lo, hi), (k, _)| {
            let k = key(k);
            (lo.min(k), hi.max(k))
        });
        if hi - lo <= u64::from(u32::MAX) {
            // The usual case (ids): half the bytes to move of (key, index) pairs.
            self.packed.clear();
            self.packed.extend(
                (0u64..)
                    .zip(rows.iter())
                    .map(|(i, (k, _))| (key(k) - lo) << 32 | i),
            );
            radix_sort(&mut self.packed, &mut self.packed_tmp, |&p| p, 4..8);
            for &p in &self.packed {
                emit((p & u64::from(u32::MAX)) as usize);
            }
            rows.clear();
            return;
        }
        self.order.clear();
        self.order
            .extend((0u32..).zip(rows.iter()).map(|(i, (k, _))| (key(k), i)));
        radix_sort(&mut self.order, &mut self.tmp, |&(k, _)| k, 0..8);
        for &(_, i) in &self.order {
            emit(i as usize);
        }
        rows.clear();
    }

    /// Bytes held by the buffers.
    pub(crate) fn bytes(&self) -> usize {
        (self.packed.capacity() + self.packed_tmp.capacity()) * 8
            + (self.order.capacity() + self.tmp.capacity()) * std::mem::size_of::<(u64, u32)>()
    }
}

/// An integer key as a `u64` of the same order (signed ones with the sign bit flipped); `None`
/// for any other type. After monomorphization this is one arm or none.
#[inline(always)]
fn as_u64<K: 'static>(k: &K) -> Option<u64> {
    const SIGN: u64 = 1 << 63;
    let k = k as &dyn Any;
    if let Some(&k) = k.downcast_ref::<u64>() {
        Some(k)
    } else if let Some(&k) = k.downcast_ref::<u32>() {
        Some(k.into())
    } else if let Some(&k) = k.downcast_ref::<u16>() {
        Some(k.into())
    } else if let Some(&k) = k.downcast_ref::<usize>() {
        Some(k as u64)
    } else if let Some(&k) = k.downcast_ref::<i64>() {
        Some(k as u64 ^ SIGN)
    } else if let Some(&k) = k.downcast_ref::<i32>() {
        Some(i64::from(k) as u64 ^ SIGN)
    } else if let Some(&k) = k.downcast_ref::<i16>() {
        Some(i64::from(k) as u64 ^ SIGN)
    } else if let Some(&k) = k.downcast_ref::<isize>() {
        Some(k as i64 as u64 ^ SIGN)
    } else {
        None
    }
}

/// Sorts `v` by `key`'s bytes in `bytes` (0 is the least significant): least significant byte
/// first, skipping the bytes every key shares (ids below 2^24 take three passes, not eight).
/// Stable.
fn radix_sort<T: Copy + Default>(
    v: &mut Vec<T>,
    tmp: &mut Vec<T>,
    key: impl Fn(&T) -> u64,
    bytes: std::ops::Range<usize>,
) {
    let n = v.len();
    let mut counts = [[0u32; 256]; 8];
    for x in v.iter() {
        let k = key(x);
        for d in bytes.clone() {
            counts[d][(k >> (8 * d)) as u8 as usize] += 1;
        }
    }
    tmp.clear();
    tmp.resize(n, T::default());
    for d in bytes {
        let c = &counts[d];
        if c.iter().any(|&m| m as usize == n) {
            continue;
        }
        let mut next = [0u32; 256];
        let mut sum = 0;
        for (slot, &m) in next.iter_mut().zip(c) {
            *slot = sum;
            sum += m;
        }
        for &x in v.iter() {
            let b = &mut next[(key(&x) >> (8 * d)) as u8 as usize];
            tmp[*b as usize] = x;
            *b += 1;
        }
        std::mem::swap(v, tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic spread of values: xorshift64*.
    fn values(n: usize, seed: u64) -> Vec<u64> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                x.wrapping_mul(0x2545_F491_4F6C_DD1D)
            })
            .collect()
    }

    fn sorted_by_key_order<K: Ord + Clone + 'static>(keys: Vec<K>) -> Vec<K> {
        let mut rows: Vec<(K, usize)> = keys.into_iter().zip(0..).collect();
        let mut seen = Vec::new();
        KeyOrder::default().drain_sorted(&mut rows, |k, &i| seen.push((k, i)));
        assert!(rows.is_empty(), "rows are drained");
        let mut values: Vec<usize> = seen.iter().map(|&(_, i)| i).collect();
        values.sort_unstable();
        assert_eq!(
            values,
            (0..values.len()).collect::<Vec<_>>(),
            "every row once, its value with its key"
        );
        seen.into_iter().map(|(k, _)| k).collect()
    }

    fn check<K: Ord + Clone + std::fmt::Debug + 'static>(keys: Vec<K>) {
        let mut expected = keys.clone();
        expected.sort();
        assert_eq!(sorted_by_key_order(keys), expected);
    }

    #[test]
    fn integer_keys_come_out_in_order() {
        for n in [0, 1, 63, 64, 65, 1000, 20_000] {
            let v = values(n, n as u64 + 7);
            check(v.clone());
            check(v.iter().map(|&x| x % 5_000).collect()); // repeated keys, three bytes shared
            check(v.iter().map(|&x| x as i64).collect()); // negative and positive
            check(v.iter().map(|&x| (x as i64) % 300).collect::<Vec<_>>());
            check(v.iter().map(|&x| x as i32).collect());
            check(v.iter().map(|&x| x as u32).collect());
            check(v.iter().map(|&x| x as u16).collect());
            check(v.iter().map(|&x| x as i16).collect());
            check(v.iter().map(|&x| x as usize).collect());
            check(v.iter().map(|&x| x as isize).collect());
        }
        check([i64::MIN, i64::MAX, 0, -1, 1, i64::MIN + 1].repeat(20));
        check([u64::MAX, 0, 1 << 63, (1 << 63) - 1].repeat(20));
        // Keys exactly 2^32 - 1 apart still pack; 2^32 apart take (key, index) pairs.
        check([7u64, 7 + u64::from(u32::MAX), 9, 8].repeat(30));
        check([7u64, 7 + (1 << 32), 9, 8].repeat(30));
        check([-5i64, -5 + i64::from(u32::MAX), 0].repeat(30));
    }

    #[test]
    fn other_keys_come_out_in_order_too() {
        let v = values(500, 3);
        check(v.iter().map(|x| format!("k{}", x % 97)).collect());
        check(v.iter().map(|&x| (x % 7, x as u8)).collect());
    }

    #[test]
    fn only_integers_take_the_radix_sort() {
        assert_eq!(as_u64(&5u64), Some(5));
        assert_eq!(as_u64(&-1i32), Some((1 << 63) - 1));
        assert!(as_u64(&-1i64) < as_u64(&0i64));
        assert_eq!(as_u64(&"5"), None);
        assert_eq!(as_u64(&(1u64, 2u64)), None);
    }
}
