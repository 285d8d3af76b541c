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
        self.order.clear();
        self.order.extend(
            (0u32..)
                .zip(rows.iter())
                .map(|(i, (k, _))| (as_u64(k).unwrap_or_default(), i)),
        );
        radix_sort(&mut self.order, &mut self.tmp);
        for &(_, i) in &self.order {
            // An integer key: the clone is a copy.
            let (k, v) = &rows[i as usize];
            f(k.clone(), v);
        }
        rows.clear();
    }

    /// Bytes held by the buffers.
    pub(crate) fn bytes(&self) -> usize {
        (self.order.capacity() + self.tmp.capacity()) * std::mem::size_of::<(u64, u32)>()
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

/// Sorts `v` by its first field: least significant byte first, skipping the bytes every key
/// shares (ids below 2^24 take three passes, not eight). Stable.
fn radix_sort(v: &mut Vec<(u64, u32)>, tmp: &mut Vec<(u64, u32)>) {
    let n = v.len();
    let mut counts = [[0u32; 256]; 8];
    for &(k, _) in v.iter() {
        for (d, c) in counts.iter_mut().enumerate() {
            c[(k >> (8 * d)) as u8 as usize] += 1;
        }
    }
    tmp.clear();
    tmp.resize(n, (0, 0));
    for (d, c) in counts.iter().enumerate() {
        if c.iter().any(|&m| m as usize == n) {
            continue;
        }
        let mut next = [0u32; 256];
        let mut sum = 0;
        for (slot, &m) in next.iter_mut().zip(c) {
            *slot = sum;
            sum += m;
        }
        for &(k, i) in v.iter() {
            let b = &mut next[(k >> (8 * d)) as u8 as usize];
            tmp[*b as usize] = (k, i);
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
