//! Small sorted sets that keep their first elements inline: most facts are seen once (one
//! delivery of a notification) or twice (two export platforms), so the common case costs no
//! allocation at all. Both types are canonical (the variant follows the length), so derived
//! equality compares contents.

use alloc::vec::Vec;

/// A set sorted by a key, with one element inline.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Small1<T> {
    /// No element.
    #[default]
    Empty,
    /// One element.
    One([T; 1]),
    /// Two or more, sorted.
    Many(Vec<T>),
}

/// A set sorted by a key, with up to two elements inline.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Small2<T> {
    /// No element.
    #[default]
    Empty,
    /// One element.
    One([T; 1]),
    /// Two elements, sorted.
    Two([T; 2]),
    /// Three or more, sorted.
    Many(Vec<T>),
}

macro_rules! small_set_common {
    ($ty:ident) => {
        impl<T> $ty<T> {
            /// The elements, sorted.
            pub fn as_slice(&self) -> &[T] {
                self.slice()
            }

            /// Whether there is no element.
            pub fn is_empty(&self) -> bool {
                self.as_slice().is_empty()
            }

            /// Inserts `item`, or combines it with the element of the same key.
            pub(crate) fn upsert(
                &mut self,
                item: T,
                cmp: impl Fn(&T, &T) -> core::cmp::Ordering,
                combine: impl FnOnce(&mut T, T),
            ) {
                match self.as_slice().binary_search_by(|probe| cmp(probe, &item)) {
                    Ok(at) => {
                        if let Some(existing) = self.as_mut_parts().get_mut(at) {
                            combine(existing, item);
                        }
                    }
                    Err(at) => self.insert_at(at, item),
                }
            }

            /// Merges another set into this one (keys unite; equal keys combine).
            pub(crate) fn merge_with(
                &mut self,
                other: &Self,
                cmp: impl Fn(&T, &T) -> core::cmp::Ordering,
                combine: impl Fn(&mut T, &T),
            ) where
                T: Clone,
            {
                for item in other.as_slice() {
                    match self.as_slice().binary_search_by(|probe| cmp(probe, item)) {
                        Ok(at) => {
                            if let Some(existing) = self.as_mut_parts().get_mut(at) {
                                combine(existing, item);
                            }
                        }
                        Err(at) => self.insert_at(at, item.clone()),
                    }
                }
            }
        }
    };
}

small_set_common!(Small1);
small_set_common!(Small2);

impl<T> Small1<T> {
    fn slice(&self) -> &[T] {
        match self {
            Self::Empty => &[],
            Self::One(a) => a,
            Self::Many(v) => v,
        }
    }

    fn as_mut_parts(&mut self) -> &mut [T] {
        match self {
            Self::Empty => &mut [],
            Self::One(a) => a,
            Self::Many(v) => v,
        }
    }

    fn insert_at(&mut self, at: usize, item: T) {
        *self = match core::mem::take(self) {
            Self::Empty => Self::One([item]),
            Self::One([a]) => Self::Many(if at == 0 {
                alloc::vec![item, a]
            } else {
                alloc::vec![a, item]
            }),
            Self::Many(mut v) => {
                v.reserve_exact(1);
                v.insert(at.min(v.len()), item);
                Self::Many(v)
            }
        };
    }
}

impl<T> Small2<T> {
    /// The element `find` finds (a comparison with the key sought), inserted from
    /// `make` when there is none.
    pub(crate) fn get_or_insert_with(
        &mut self,
        find: impl Fn(&T) -> core::cmp::Ordering,
        make: impl FnOnce() -> T,
    ) -> Option<&mut T> {
        let at = match self.as_slice().binary_search_by(find) {
            Ok(at) => at,
            Err(at) => {
                self.insert_at(at, make());
                at
            }
        };
        self.as_mut_parts().get_mut(at)
    }

    fn slice(&self) -> &[T] {
        match self {
            Self::Empty => &[],
            Self::One(a) => a,
            Self::Two(a) => a,
            Self::Many(v) => v,
        }
    }

    fn as_mut_parts(&mut self) -> &mut [T] {
        match self {
            Self::Empty => &mut [],
            Self::One(a) => a,
            Self::Two(a) => a,
            Self::Many(v) => v,
        }
    }

    fn insert_at(&mut self, at: usize, item: T) {
        *self = match core::mem::take(self) {
            Self::Empty => Self::One([item]),
            Self::One([a]) => Self::Two(if at == 0 { [item, a] } else { [a, item] }),
            Self::Two([a, b]) => {
                let mut v = alloc::vec::Vec::with_capacity(3);
                v.extend([a, b]);
                v.insert(at.min(2), item);
                Self::Many(v)
            }
            Self::Many(mut v) => {
                v.reserve_exact(1);
                v.insert(at.min(v.len()), item);
                Self::Many(v)
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_sorted_unique_and_canonical() {
        let mut s = Small2::default();
        for x in [5, 1, 3, 1, 5, 2] {
            s.upsert(x, |a, b| a.cmp(b), |_, _| {});
        }
        assert_eq!(s.as_slice(), [1, 2, 3, 5]);
        let mut t = Small1::default();
        t.upsert(7, |a, b| a.cmp(b), |_, _| {});
        assert!(matches!(t, Small1::One([7])));
        t.upsert(3, |a, b| a.cmp(b), |_, _| {});
        assert_eq!(t.as_slice(), [3, 7]);
        let mut a = Small2::default();
        a.upsert(4, |a, b| a.cmp(b), |_, _| {});
        let mut b = Small2::default();
        b.upsert(4, |a, b| a.cmp(b), |_, _| {});
        assert_eq!(a, b);
        a.merge_with(&s, |a, b| a.cmp(b), |_, _| {});
        assert_eq!(a.as_slice(), [1, 2, 3, 4, 5]);
    }
}
