//! The semantic stage: judges a captured document against the documented format (seed,
//! "Verify the connection" and after; docs/protocol.md §1.5) and builds the [`Notification`] with its
//! deviations. Checks run in a fixed order, so the same input always gives the same first error:
//! repeated keys, `version`, `type`, then `Content`.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use super::capture::{Captured, ContentMap, ContentShape, Envelope, Field, Text};
use super::keys::{self, ContentKey, TopKey};
use crate::deviation::{Deviation, DeviationKind};
use crate::error::{Expected, JsonKind, ParseErrorKind};
use crate::id::{IterationId, ProjectId};
use crate::model_uri::ModelUri;
use crate::notification::{ExportStatus, Notification, NotificationKind, TrainingStatus, Version};
use crate::path::{FieldPath, Snippet};

/// A message that passed validation.
pub(crate) struct Checked {
    pub(crate) version: Version,
    pub(crate) notification: Notification,
    pub(crate) deviations: Vec<Deviation>,
}

/// Boxed: rejections are the cold path, and a small `Result` keeps the accepting path lean.
type Result<T> = core::result::Result<T, Box<ParseErrorKind>>;

pub(crate) fn validate(env: &Envelope<'_>) -> Result<Checked> {
    check_repeats(env)?;
    let mut deviations = Vec::new();
    envelope_key_deviations(env, &mut deviations);
    let version = check_version(env.version.as_ref(), &mut deviations)?;
    let notification = match check_type(env.kind.as_ref(), &mut deviations)? {
        Err(kind) => Notification::Unrecognized { kind },
        Ok(kind) => check_content(kind, env, &mut deviations)?,
    };
    Ok(Checked {
        version,
        notification,
        deviations,
    })
}

fn top_path(key: &Text<'_>) -> FieldPath {
    FieldPath::top(&key.text)
}

fn duplicate(path: FieldPath, key: &Text<'_>) -> ParseErrorKind {
    ParseErrorKind::DuplicateKey {
        path,
        key: Snippet::new(&key.text),
        offset: key.offset,
    }
}

/// A repeated key anywhere: at the top level, inside `Content`, or nested in any value.
fn check_repeats(env: &Envelope<'_>) -> Result<()> {
    if let Some(key) = &env.repeat {
        return Err(duplicate(top_path(key), key).into());
    }
    let scalars = env.version.iter().chain(&env.kind).chain(&env.unknown);
    for field in scalars {
        if let Some(r) = field.value.repeat() {
            return Err(duplicate(top_path(&field.key), &r.key).into());
        }
    }
    let Some(content) = &env.content else {
        return Ok(());
    };
    match &content.value {
        ContentShape::Other(value) => match value.repeat() {
            Some(r) => Err(duplicate(top_path(&content.key), &r.key).into()),
            None => Ok(()),
        },
        ContentShape::Object => {
            let map = &env.content_map;
            let inner = |key: &Text<'_>| FieldPath::inner(&content.key.text, &key.text);
            if let Some(key) = &map.repeat {
                return Err(duplicate(inner(key), key).into());
            }
            for field in map.slots.iter().flatten().chain(&map.unknown) {
                if let Some(r) = field.value.repeat() {
                    return Err(duplicate(inner(&field.key), &r.key).into());
                }
            }
            Ok(())
        }
    }
}

fn envelope_key_deviations(env: &Envelope<'_>, out: &mut Vec<Deviation>) {
    let documented = [
        (
            env.version.as_ref().map(|f| (&f.key, f.exact)),
            TopKey::Version,
        ),
        (env.kind.as_ref().map(|f| (&f.key, f.exact)), TopKey::Type),
        (
            env.content.as_ref().map(|f| (&f.key, f.exact)),
            TopKey::Content,
        ),
    ];
    for (field, top) in documented {
        if let Some((key, false)) = field {
            let kind = DeviationKind::KeyCase {
                documented: top.documented(),
            };
            out.push(key_deviation(kind, top_path(key), key));
        }
    }
    for field in &env.unknown {
        out.push(key_deviation(
            DeviationKind::UnknownKey,
            top_path(&field.key),
            &field.key,
        ));
    }
}

fn key_deviation(kind: DeviationKind, path: FieldPath, key: &Text<'_>) -> Deviation {
    Deviation {
        kind,
        path,
        offset: key.offset,
    }
}

fn value_deviation(
    kind: DeviationKind,
    path: FieldPath,
    field: &Field<'_, Captured<'_>>,
    text: &Text<'_>,
) -> Deviation {
    Deviation {
        kind,
        path,
        offset: text.offset.or(field.key.offset),
    }
}

fn wrong_type(
    path: FieldPath,
    field: &Field<'_, Captured<'_>>,
    expected: JsonKind,
) -> ParseErrorKind {
    ParseErrorKind::WrongType {
        path,
        offset: field.key.offset,
        expected,
        found: field.value.kind(),
    }
}

/// A required top-level string field, or why it is not one.
fn required_string<'a, 'de>(
    field: Option<&'a Field<'de, Captured<'de>>>,
    name: &'static str,
) -> Result<(&'a Field<'de, Captured<'de>>, &'a Text<'de>)> {
    let Some(field) = field else {
        return Err(ParseErrorKind::MissingField {
            path: FieldPath::top(name),
        }
        .into());
    };
    match &field.value {
        Captured::Str(text) => Ok((field, text)),
        _ => Err(wrong_type(top_path(&field.key), field, JsonKind::String).into()),
    }
}

fn check_version(
    field: Option<&Field<'_, Captured<'_>>>,
    out: &mut Vec<Deviation>,
) -> Result<Version> {
    let (field, text) = required_string(field, "version")?;
    let Some(version) = Version::parse(&text.text) else {
        return Err(ParseErrorKind::UnsupportedVersion {
            path: top_path(&field.key),
            offset: text.offset.or(field.key.offset),
            found: Snippet::new(&text.text),
        }
        .into());
    };
    if !version.is_documented() {
        let kind = DeviationKind::VersionMinor {
            version: Snippet::new(&text.text),
        };
        out.push(value_deviation(kind, top_path(&field.key), field, text));
    }
    Ok(version)
}

/// `Ok(Ok(kind))` for a documented type, `Ok(Err(name))` for an unrecognized one.
fn check_type(
    field: Option<&Field<'_, Captured<'_>>>,
    out: &mut Vec<Deviation>,
) -> Result<core::result::Result<NotificationKind, String>> {
    let (field, text) = required_string(field, "type")?;
    let path = || top_path(&field.key);
    let written = text.text.as_ref();
    if let Some(kind) = NotificationKind::ALL
        .into_iter()
        .find(|k| k.as_str() == written)
    {
        return Ok(Ok(kind));
    }
    if let Some(kind) = NotificationKind::ALL
        .into_iter()
        .find(|k| keys::fold_eq(written, k.as_str()))
    {
        let dev = DeviationKind::TypeCase {
            written: Snippet::new(written),
            documented: kind.as_str(),
        };
        out.push(value_deviation(dev, path(), field, text));
        return Ok(Ok(kind));
    }
    let dev = DeviationKind::UnrecognizedType {
        kind: Snippet::new(written),
    };
    out.push(value_deviation(dev, path(), field, text));
    Ok(Err(String::from(written)))
}

/// The keys each documented type has inside `Content`.
const fn keys_of(kind: NotificationKind) -> &'static [ContentKey] {
    match kind {
        NotificationKind::ConnectionTest => &[ContentKey::ProjectId],
        NotificationKind::Training => &[
            ContentKey::ProjectId,
            ContentKey::IterationId,
            ContentKey::TrainingStatus,
        ],
        NotificationKind::Export => &[
            ContentKey::ProjectId,
            ContentKey::IterationId,
            ContentKey::ExportStatus,
            ContentKey::ModelUri,
        ],
    }
}

/// Reads `Content` for a documented type.
struct ContentReader<'a, 'de> {
    content_key: &'a str,
    map: &'a ContentMap<'de>,
}

impl<'de> ContentReader<'_, 'de> {
    fn slot(&self, key: ContentKey) -> Option<&Field<'de, Captured<'de>>> {
        self.map.slots.get(key as usize).and_then(Option::as_ref)
    }

    fn path(&self, key: ContentKey) -> FieldPath {
        match self.slot(key) {
            Some(field) => FieldPath::inner(self.content_key, &field.key.text),
            None => FieldPath::inner(self.content_key, key.documented()),
        }
    }

    /// The string value of a required field, with its offset.
    fn string(&self, key: ContentKey) -> Result<(&Text<'de>, Option<usize>)> {
        let Some(field) = self.slot(key) else {
            return Err(ParseErrorKind::MissingField {
                path: self.path(key),
            }
            .into());
        };
        match &field.value {
            Captured::Str(text) => Ok((text, text.offset.or(field.key.offset))),
            _ => Err(wrong_type(self.path(key), field, JsonKind::String).into()),
        }
    }

    fn guid<T>(
        &self,
        key: ContentKey,
        parse: fn(&str) -> core::result::Result<T, crate::GuidError>,
    ) -> Result<T> {
        let (text, offset) = self.string(key)?;
        parse(&text.text).map_err(|problem| {
            ParseErrorKind::InvalidGuid {
                path: self.path(key),
                offset,
                problem,
            }
            .into()
        })
    }

    fn status<T: Copy>(
        &self,
        key: ContentKey,
        all: &[T],
        name: fn(T) -> &'static str,
        expected: Expected,
    ) -> Result<T> {
        let (text, offset) = self.string(key)?;
        all.iter()
            .copied()
            .find(|s| name(*s) == text.text)
            .ok_or_else(|| {
                ParseErrorKind::UnknownStatus {
                    path: self.path(key),
                    offset,
                    found: Snippet::new(&text.text),
                    expected,
                }
                .into()
            })
    }

    fn model_uri(&self, required: bool) -> Result<Option<ModelUri>> {
        let key = ContentKey::ModelUri;
        match self.slot(key).map(|f| (f, &f.value)) {
            None | Some((_, Captured::Null)) if !required => Ok(None),
            None => Err(ParseErrorKind::MissingField {
                path: self.path(key),
            }
            .into()),
            Some((field, Captured::Str(text))) => {
                ModelUri::parse(&text.text).map(Some).map_err(|problem| {
                    ParseErrorKind::InvalidModelUri {
                        path: self.path(key),
                        offset: text.offset.or(field.key.offset),
                        problem,
                    }
                    .into()
                })
            }
            Some((field, _)) => Err(wrong_type(self.path(key), field, JsonKind::String).into()),
        }
    }
}

fn check_content(
    kind: NotificationKind,
    env: &Envelope<'_>,
    out: &mut Vec<Deviation>,
) -> Result<Notification> {
    let Some(content) = &env.content else {
        return Err(ParseErrorKind::MissingField {
            path: FieldPath::top("Content"),
        }
        .into());
    };
    let map = match &content.value {
        ContentShape::Object => &env.content_map,
        ContentShape::Other(value) => {
            return Err(ParseErrorKind::WrongType {
                path: top_path(&content.key),
                offset: content.key.offset,
                expected: JsonKind::Object,
                found: value.kind(),
            }
            .into());
        }
    };
    let reader = ContentReader {
        content_key: &content.key.text,
        map,
    };
    let wanted = keys_of(kind);
    for (n, field) in map.slots.iter().enumerate() {
        let Some(field) = field else { continue };
        let dev = match wanted.iter().find(|k| **k as usize == n) {
            None => DeviationKind::KeyNotForType {
                kind: kind.as_str(),
            },
            Some(k) if !field.exact => DeviationKind::KeyCase {
                documented: k.documented(),
            },
            Some(_) => continue,
        };
        let path = FieldPath::inner(reader.content_key, &field.key.text);
        out.push(key_deviation(dev, path, &field.key));
    }
    for field in &map.unknown {
        let path = FieldPath::inner(reader.content_key, &field.key.text);
        out.push(key_deviation(DeviationKind::UnknownKey, path, &field.key));
    }

    let project_id = reader.guid(ContentKey::ProjectId, ProjectId::parse)?;
    Ok(match kind {
        NotificationKind::ConnectionTest => Notification::ConnectionTest { project_id },
        NotificationKind::Training => Notification::Training {
            project_id,
            iteration_id: reader.guid(ContentKey::IterationId, IterationId::parse)?,
            status: reader.status(
                ContentKey::TrainingStatus,
                &TrainingStatus::ALL,
                TrainingStatus::as_str,
                &["TrainingCompleted", "TrainingFailed"],
            )?,
        },
        NotificationKind::Export => {
            let iteration_id = reader.guid(ContentKey::IterationId, IterationId::parse)?;
            let status = reader.status(
                ContentKey::ExportStatus,
                &ExportStatus::ALL,
                ExportStatus::as_str,
                &["ExportCompleted", "ExportFailed"],
            )?;
            let model_uri = reader.model_uri(status == ExportStatus::ExportCompleted)?;
            Notification::Export {
                project_id,
                iteration_id,
                status,
                model_uri,
            }
        }
    })
}
