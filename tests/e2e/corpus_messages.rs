//! The message corpus (`corpus/messages`): each file's verdict matches its name, its full
//! outcome matches a reviewed snapshot (so a case rejected for the wrong reason fails), and
//! together the cases exercise every error and deviation the parser has.

use std::collections::BTreeSet;

use cvnotify_core::{ParseErrorKind, ParseOptions, parse};

use crate::support::{Expect, describe, expectation, message_files};

#[test]
fn every_case_has_its_named_verdict_and_reviewed_outcome() {
    insta::glob!("../../corpus/messages", "*.msg", |path| {
        let raw = std::fs::read(path).unwrap();
        let tolerant = parse(&raw, ParseOptions::TOLERANT);
        let strict = parse(&raw, ParseOptions::STRICT);
        let name = path.display();
        match expectation(path) {
            Expect::Accept => {
                let p = tolerant.unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
                assert!(p.deviations.is_empty(), "{name}: {:?}", p.deviations);
                assert_eq!(strict.as_ref().ok(), Some(&p), "{name}: strict differs");
            }
            Expect::AcceptWithDeviation => {
                let p = tolerant.unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
                assert!(!p.deviations.is_empty(), "{name}: no deviation");
                let e = strict.expect_err("strict mode accepted an i_ case");
                assert!(
                    matches!(e.kind(), ParseErrorKind::Strict { deviation, total }
                        if *deviation == p.deviations[0] && *total == p.deviations.len()),
                    "{name}: strict error {e}"
                );
            }
            Expect::Reject => {
                let e = tolerant.expect_err("n_ case accepted");
                assert_eq!(
                    strict.as_ref().err(),
                    Some(&e),
                    "{name}: strict rejects differently"
                );
            }
        }
        insta::assert_snapshot!(describe(&raw));
    });
}

#[test]
fn accepted_cases_round_trip_through_the_canonical_form() {
    for path in message_files() {
        if expectation(&path) == Expect::Reject {
            continue;
        }
        let raw = std::fs::read(&path).unwrap();
        let parsed = parse(&raw, ParseOptions::TOLERANT).unwrap();
        let canonical = parsed.notification.canonical_json();
        let options = if parsed.notification.kind().is_some() {
            ParseOptions::STRICT
        } else {
            ParseOptions::TOLERANT
        };
        let again = parse(canonical.as_bytes(), options).unwrap_or_else(|e| {
            panic!(
                "{}: canonical form rejected: {e}\n{canonical}",
                path.display()
            )
        });
        assert_eq!(
            again.notification,
            parsed.notification,
            "{}",
            path.display()
        );
        assert_eq!(again.notification.canonical_json(), canonical);
    }
}

/// Every way to reject and every deviation is exercised by at least one case, so a rule without
/// a case fails here.
#[test]
fn the_corpus_covers_every_error_and_deviation() {
    let mut errors = BTreeSet::new();
    let mut deviations = BTreeSet::new();
    for path in message_files() {
        let raw = std::fs::read(&path).unwrap();
        match parse(&raw, ParseOptions::TOLERANT) {
            Ok(p) => deviations.extend(p.deviations.iter().map(|d| d.code())),
            Err(e) => {
                errors.insert(e.code());
            }
        }
        if let Err(e) = parse(&raw, ParseOptions::STRICT) {
            errors.insert(e.code());
        }
    }
    // Every code the parser's enums have (issue 12: the lists were typed by hand, so a new
    // kind could go unexercised without this test noticing).
    let all_errors = cvnotify_core::ParseErrorCode::ALL.map(|c| c.as_str());
    assert_eq!(errors, all_errors.into_iter().collect());
    let all_deviations = cvnotify_core::DeviationCode::ALL.map(|c| c.as_str());
    assert_eq!(deviations, all_deviations.into_iter().collect());
}
