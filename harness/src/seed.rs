//! Deterministic sequences from a seed (splitmix64): the simulation's ids and random choices,
//! the generated recordings' ids, the benchmarks' inputs. The same seed gives the same numbers on
//! every machine; nothing here is meant to be unpredictable.

/// splitmix64's increment (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// The splitmix64 output for the state after `state` (one step: add the increment, mix).
pub const fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A sequence of numbers from one seed.
#[derive(Clone, Debug)]
pub struct Sequence(u64);

impl Sequence {
    /// The sequence starting after `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let out = splitmix64(self.0);
        self.0 = self.0.wrapping_add(GAMMA);
        out
    }
}

/// 16 bytes that look random (as the service's v4 ids do), fixed by `(kind, a, b)`.
pub fn guid_bytes(kind: u64, a: u64, b: u64) -> [u8; 16] {
    let mut s = Sequence::new(kind << 56 ^ a << 24 ^ b);
    let (hi, lo) = (s.next_u64(), s.next_u64());
    let mut out = [0u8; 16];
    let (h, l) = out.split_at_mut(8);
    h.copy_from_slice(&hi.to_be_bytes());
    l.copy_from_slice(&lo.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference output of splitmix64 seeded with 0 (Vigna's implementation).
    #[test]
    fn matches_the_reference_sequence() {
        let mut s = Sequence::new(0);
        assert_eq!(s.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(s.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_ne!(guid_bytes(1, 2, 3), guid_bytes(1, 2, 4));
    }
}
