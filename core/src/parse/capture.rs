//! The syntax stage: `serde_json` reads the text, and these visitors record what it holds
//! (documented keys into slots, everything else by kind) without judging it yet. They borrow
//! strings from the input where JSON allows (no escapes), which is also how byte offsets are
//! found: a borrowed `&str` points into the input. They count nesting themselves (serde_json's
//! own limit is off; [`MAX_DEPTH`] is ours) and find repeated keys at every depth.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::keys::{self, CONTENT_KEYS, Match, TOP_KEYS, TopKey};
use crate::MAX_DEPTH;
use crate::error::JsonKind;

/// Shared by all visitors of one parse.
pub(crate) struct Ctx {
    base: usize,
    len: usize,
    /// Set when a visitor stopped the parse for exceeding [`MAX_DEPTH`].
    pub(crate) too_deep: Cell<bool>,
}

impl Ctx {
    pub(crate) fn new(text: &str) -> Self {
        Self {
            base: text.as_ptr() as usize,
            len: text.len(),
            too_deep: Cell::new(false),
        }
    }

    /// Byte offset of `s` in the input, when `s` was borrowed from it.
    fn offset_of(&self, s: &str) -> Option<usize> {
        let p = s.as_ptr() as usize;
        p.checked_sub(self.base)
            .filter(|o| *o + s.len() <= self.len)
    }
}

/// A string from the input, borrowed when it had no escapes.
#[derive(Clone, Debug)]
pub(crate) struct Text<'de> {
    pub(crate) text: Cow<'de, str>,
    pub(crate) offset: Option<usize>,
}

/// A repeated key found somewhere inside a value.
#[derive(Clone, Debug)]
pub(crate) struct Repeat<'de> {
    pub(crate) key: Text<'de>,
}

/// A value, recorded only as far as validation needs it.
#[derive(Clone, Debug)]
pub(crate) enum Captured<'de> {
    Str(Text<'de>),
    Number,
    Bool,
    Null,
    /// An array or object, with the first key repeated anywhere inside it.
    Container {
        kind: JsonKind,
        repeat: Option<Repeat<'de>>,
    },
}

impl<'de> Captured<'de> {
    pub(crate) const fn kind(&self) -> JsonKind {
        match self {
            Self::Str(_) => JsonKind::String,
            Self::Number => JsonKind::Number,
            Self::Bool => JsonKind::Bool,
            Self::Null => JsonKind::Null,
            Self::Container { kind, .. } => *kind,
        }
    }

    pub(crate) fn repeat(&self) -> Option<&Repeat<'de>> {
        match self {
            Self::Container { repeat, .. } => repeat.as_ref(),
            _ => None,
        }
    }
}

/// A key and its value.
#[derive(Clone, Debug)]
pub(crate) struct Field<'de, V> {
    pub(crate) key: Text<'de>,
    pub(crate) exact: bool,
    pub(crate) value: V,
}

/// The `Content` object, keys sorted into the five documented slots or `unknown`.
#[derive(Debug, Default)]
pub(crate) struct ContentMap<'de> {
    pub(crate) slots: [Option<Field<'de, Captured<'de>>>; 5],
    pub(crate) unknown: Vec<Field<'de, Captured<'de>>>,
    /// The first key repeated at this level (a documented slot filled twice, or two unknown
    /// keys equal under folding).
    pub(crate) repeat: Option<Text<'de>>,
}

/// The `Content` value: an object (its keys are then in [`Envelope::content_map`], filled in
/// place) or any other value.
#[derive(Debug)]
pub(crate) enum ContentShape<'de> {
    Object,
    Other(Captured<'de>),
}

/// The top-level object. Visitors fill it in place through `&mut`, so its few hundred bytes are
/// never moved through serde's return values.
#[derive(Debug, Default)]
pub(crate) struct Envelope<'de> {
    pub(crate) version: Option<Field<'de, Captured<'de>>>,
    pub(crate) kind: Option<Field<'de, Captured<'de>>>,
    pub(crate) content: Option<Field<'de, ContentShape<'de>>>,
    pub(crate) content_map: ContentMap<'de>,
    pub(crate) unknown: Vec<Field<'de, Captured<'de>>>,
    pub(crate) repeat: Option<Text<'de>>,
}

/// What the document is.
#[derive(Debug)]
pub(crate) enum Document {
    /// An object, recorded in the [`Envelope`].
    Object,
    NotObject(JsonKind),
}

fn too_deep<E: de::Error>(ctx: &Ctx) -> E {
    ctx.too_deep.set(true);
    E::custom("nesting too deep")
}

/// Puts `value` into `slot`, or records the key as repeated.
fn put<'de, V>(
    slot: &mut Option<Field<'de, V>>,
    repeat: &mut Option<Text<'de>>,
    field: Field<'de, V>,
) {
    if slot.is_some() {
        if repeat.is_none() {
            *repeat = Some(field.key);
        }
    } else {
        *slot = Some(field);
    }
}

/// The first key (in input order) equal under folding to an earlier one.
fn first_repeat<'a, 'de, T>(items: &'a [T], key: impl Fn(&T) -> &Text<'de>) -> Option<&'a T> {
    if items.len() < 2 {
        return None;
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    let key_at = |i: usize| {
        items
            .get(i)
            .map(|t| key(t).text.as_ref())
            .unwrap_or_default()
    };
    order.sort_by(|&a, &b| keys::fold_cmp(key_at(a), key_at(b)).then(a.cmp(&b)));
    order
        .windows(2)
        .filter_map(|w| match w {
            [a, b] if keys::fold_eq(key_at(*a), key_at(*b)) => Some(*b),
            _ => None,
        })
        .min()
        .and_then(|i| items.get(i))
}

// ---- keys ----------------------------------------------------------------------------------

struct KeySeed<'c>(&'c Ctx);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Text<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Text<'de>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Text<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
        Ok(Text {
            text: Cow::Borrowed(v),
            offset: self.0.offset_of(v),
        })
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
        Ok(Text {
            text: Cow::Owned(String::from(v)),
            offset: None,
        })
    }
}

// ---- any value -----------------------------------------------------------------------------

/// Reads any value; `depth` is the depth a container at this position would have.
struct ValueSeed<'c> {
    ctx: &'c Ctx,
    depth: usize,
}

impl ValueSeed<'_> {
    fn child(&self) -> Self {
        ValueSeed {
            ctx: self.ctx,
            depth: self.depth + 1,
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Captured<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Captured<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Captured<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Captured<'de>, E> {
        Ok(Captured::Bool)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Captured<'de>, E> {
        Ok(Captured::Number)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Captured<'de>, E> {
        Ok(Captured::Number)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Captured<'de>, E> {
        Ok(Captured::Number)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Captured<'de>, E> {
        Ok(Captured::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Captured<'de>, E> {
        Ok(Captured::Null)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Captured<'de>, E> {
        Ok(Captured::Str(Text {
            text: Cow::Borrowed(v),
            offset: self.ctx.offset_of(v),
        }))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Captured<'de>, E> {
        Ok(Captured::Str(Text {
            text: Cow::Owned(String::from(v)),
            offset: None,
        }))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Captured<'de>, A::Error> {
        if self.depth > MAX_DEPTH {
            return Err(too_deep(self.ctx));
        }
        let mut repeat = None;
        while let Some(item) = seq.next_element_seed(self.child())? {
            if repeat.is_none() {
                repeat = item.repeat().cloned();
            }
        }
        Ok(Captured::Container {
            kind: JsonKind::Array,
            repeat,
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Captured<'de>, A::Error> {
        if self.depth > MAX_DEPTH {
            return Err(too_deep(self.ctx));
        }
        // One key is kept inline: nested objects in unknown values usually have one, and a
        // deep nesting of them should not cost an allocation per level.
        let mut first: Option<Text<'de>> = None;
        let mut keys: Vec<Text<'de>> = Vec::new();
        let mut repeat = None;
        while let Some(key) = map.next_key_seed(KeySeed(self.ctx))? {
            let value = map.next_value_seed(self.child())?;
            if repeat.is_none() {
                repeat = value.repeat().cloned();
            }
            match first.take() {
                None if keys.is_empty() => first = Some(key),
                Some(f) => keys.extend([f, key]),
                None => keys.push(key),
            }
        }
        if let Some(key) = first_repeat(&keys, |k| k) {
            repeat = Some(Repeat { key: key.clone() });
        }
        Ok(Captured::Container {
            kind: JsonKind::Object,
            repeat,
        })
    }
}

// ---- Content -------------------------------------------------------------------------------

/// Reads the `Content` value (depth 2 when it is an object) into `map`.
struct ContentSeed<'c, 'm, 'de> {
    ctx: &'c Ctx,
    map: &'m mut ContentMap<'de>,
}

impl<'de> DeserializeSeed<'de> for ContentSeed<'_, '_, 'de> {
    type Value = ContentShape<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ContentShape<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

/// Forwards every non-object visit to [`ValueSeed`] and wraps what it returns.
macro_rules! forward_scalars {
    ($wrap:path, $depth:expr) => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            ValueSeed {
                ctx: self.ctx,
                depth: $depth,
            }
            .visit_bool(v)
            .map($wrap)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            ValueSeed {
                ctx: self.ctx,
                depth: $depth,
            }
            .visit_i64(v)
            .map($wrap)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            ValueSeed {
                ctx: self.ctx,
                depth: $depth,
            }
            .visit_u64(v)
            .map($wrap)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            ValueSeed {
                ctx: self.ctx,
                depth: $depth,
            }
            .visit_f64(v)
            .map($wrap)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            ValueSeed {
                ctx: self.ctx,
                depth: $depth,
            }
            .visit_unit()
            .map($wrap)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            ValueSeed {
                ctx: self.ctx,
                depth: $depth,
            }
            .visit_none()
            .map($wrap)
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            ValueSeed {
                ctx: self.ctx,
                depth: $depth,
            }
            .visit_borrowed_str(v)
            .map($wrap)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            ValueSeed {
                ctx: self.ctx,
                depth: $depth,
            }
            .visit_str(v)
            .map($wrap)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            ValueSeed {
                ctx: self.ctx,
                depth: $depth,
            }
            .visit_seq(seq)
            .map($wrap)
        }
    };
}

impl<'de> Visitor<'de> for ContentSeed<'_, '_, 'de> {
    type Value = ContentShape<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the Content object")
    }
    forward_scalars!(ContentShape::Other, 2);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ContentShape<'de>, A::Error> {
        let (ctx, content) = (self.ctx, self.map);
        while let Some(key) = map.next_key_seed(KeySeed(ctx))? {
            let value = map.next_value_seed(ValueSeed { ctx, depth: 3 })?;
            let (slot, exact) = match keys::find(&key.text, &CONTENT_KEYS) {
                Match::Exact(k) => (content.slots.get_mut(k as usize), true),
                Match::Folded(k) => (content.slots.get_mut(k as usize), false),
                Match::Unknown => (None, false),
            };
            match slot {
                Some(slot) => put(slot, &mut content.repeat, Field { key, exact, value }),
                None => content.unknown.push(Field { key, exact, value }),
            }
        }
        if content.repeat.is_none() {
            content.repeat = first_repeat(&content.unknown, |f| &f.key).map(|f| f.key.clone());
        }
        Ok(ContentShape::Object)
    }
}

// ---- the document --------------------------------------------------------------------------

/// Reads the whole document (the envelope object is depth 1) into `env`.
pub(crate) struct DocumentSeed<'c, 'e, 'de> {
    pub(crate) ctx: &'c Ctx,
    pub(crate) env: &'e mut Envelope<'de>,
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_, '_, 'de> {
    type Value = Document;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Document, D::Error> {
        d.deserialize_any(self)
    }
}

fn not_object(c: Captured<'_>) -> Document {
    Document::NotObject(c.kind())
}

impl<'de> Visitor<'de> for DocumentSeed<'_, '_, 'de> {
    type Value = Document;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    forward_scalars!(not_object, 1);
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let (ctx, env) = (self.ctx, self.env);
        while let Some(key) = map.next_key_seed(KeySeed(ctx))? {
            let (which, exact) = match keys::find(&key.text, &TOP_KEYS) {
                Match::Exact(k) => (Some(k), true),
                Match::Folded(k) => (Some(k), false),
                Match::Unknown => (None, false),
            };
            match which {
                Some(TopKey::Content) if env.content.is_some() => {
                    // A second Content: read it (its syntax still counts) and record the repeat.
                    let mut scratch = ContentMap::default();
                    map.next_value_seed(ContentSeed {
                        ctx,
                        map: &mut scratch,
                    })?;
                    if env.repeat.is_none() {
                        env.repeat = Some(key);
                    }
                }
                Some(TopKey::Content) => {
                    let value = map.next_value_seed(ContentSeed {
                        ctx,
                        map: &mut env.content_map,
                    })?;
                    env.content = Some(Field { key, exact, value });
                }
                Some(k @ (TopKey::Version | TopKey::Type)) => {
                    let value = map.next_value_seed(ValueSeed { ctx, depth: 2 })?;
                    let slot = if k == TopKey::Version {
                        &mut env.version
                    } else {
                        &mut env.kind
                    };
                    put(slot, &mut env.repeat, Field { key, exact, value });
                }
                None => {
                    let value = map.next_value_seed(ValueSeed { ctx, depth: 2 })?;
                    env.unknown.push(Field { key, exact, value });
                }
            }
        }
        if env.repeat.is_none() {
            env.repeat = first_repeat(&env.unknown, |f| &f.key).map(|f| f.key.clone());
        }
        Ok(Document::Object)
    }
}
