//! Property tests: every settings parser and the flow loader, fed random and hostile text,
//! return a value or a bad-input error (exit 2) — never a panic, and never an error that quotes
//! more than a bounded, escaped piece of the input.

use std::path::Path;
use std::str::FromStr;

use proptest::prelude::*;

use crate::error::{exit_code, SHOWN_CHARS};

/// Text as an attacker or a slipped paste gives it: any characters, control characters and
/// invalid escapes, long digit runs, units, and multi-byte characters next to '%'.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\x00-\\x1f\\x7f%é€\u{202e}0-9a-z:/@.\\[\\]-]{0,40}",
        "([0-9]{1,25}(ms|s|m|h|x|))+",
        "imaps?://[a-z%é@.:]{0,20}(@[a-z0-9.:\\[\\]]{0,20})?(/[A-Za-z%é]{0,10})?",
        "[0-9]{0,3}/[0-9]{0,3}/[0-9]{0,6}",
        "[0-9 ()+.-]{0,30}",
        "\\PC{0,200}",
    ]
}

/// The error, if any, is bad input; its message quotes no long stretch of the input raw and
/// holds no control character (the terminal must not be steered by it).
fn refused_cleanly<T: std::fmt::Debug>(what: &str, input: &str, result: anyhow::Result<T>) {
    if let Err(e) = result {
        let message = format!("{e:#}");
        assert_eq!(exit_code(&e), 2, "{what}({input:?}) → {message}");
        assert!(
            !message.chars().any(|c| c.is_control() && c != '\n'),
            "{what}({input:?}) echoed a control character: {message:?}"
        );
        let long = input.chars().count() > SHOWN_CHARS + 20;
        if long {
            assert!(
                !message.contains(input),
                "{what} quoted the whole {}-character input",
                input.chars().count()
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn settings_parsers_never_panic(s in hostile()) {
        refused_cleanly("Tin::parse", &s, crate::settings::Tin::parse(&s));
        refused_cleanly("parse_email", &s, crate::settings::parse_email(&s, "--email"));
        refused_cleanly("parse_phone", &s, crate::settings::parse_phone(&s));
        refused_cleanly("parse_duration", &s, crate::settings::parse_duration(&s, "--action-timeout"));
        refused_cleanly("parse_poll_every", &s, crate::settings::parse_poll_every(&s));
        refused_cleanly("parse_date_of_birth", &s, crate::settings::parse_date_of_birth(&s));
        refused_cleanly("portal_url", &s, crate::settings::portal_url(&s));
        refused_cleanly("MailboxUrl", &s, crate::mail::MailboxUrl::from_str(&s));
        refused_cleanly("entitlements", &s, crate::flow::builtin("existing").unwrap().choose_entitlements(std::slice::from_ref(&s)));
    }

    #[test]
    fn durations_stay_within_their_maximum(n in any::<u64>(), unit in "(ms|s|m|h)", times in 1usize..4) {
        let raw = format!("{n}{unit}").repeat(times);
        match crate::settings::parse_duration(&raw, "--code-timeout") {
            Ok(d) => prop_assert!(d <= crate::settings::MAX_DURATION),
            Err(e) => prop_assert_eq!(exit_code(&e), 2),
        }
    }

    #[test]
    fn the_settings_file_parser_never_panics(
        key in "(browser|imap-url|portal-url|code-timeout|action-timeout|poll-every|runs-dir|email|phone|tin|\\PC{0,12})",
        value in hostile(),
        quoted in any::<bool>(),
    ) {
        let text = if quoted {
            format!("{key} = {:?}\n", value)
        } else {
            format!("{key} = {value}\n")
        };
        let result = crate::config::parse(&text, Path::new("cigna-setup.toml"));
        refused_cleanly("config::parse", &text, result);
    }

    #[test]
    fn the_flow_loader_never_panics(at in any::<prop::sample::Index>(), insert in hostile(), cut in 0usize..400) {
        let flow = crate::flow::BUILTIN[0].1;
        let mut at = at.index(flow.len());
        while !flow.is_char_boundary(at) {
            at -= 1;
        }
        let end = (at + cut).min(flow.len());
        let mut end = end;
        while !flow.is_char_boundary(end) {
            end -= 1;
        }
        let text = format!("{}{}{}", &flow[..at], insert, &flow[end..]);
        refused_cleanly("flow::parse", "", crate::flow::parse(&text, "hostile.toml"));
    }
}

#[test]
fn the_inputs_that_panicked_are_refused() {
    for (what, result) in [
        (
            "a duration past u64 seconds",
            crate::settings::parse_duration("18446744073709551615s", "--action-timeout").map(drop),
        ),
        (
            "durations whose sum overflows",
            crate::settings::parse_duration("18446744073709551615s1s", "--action-timeout")
                .map(drop),
        ),
        (
            "minutes that overflow",
            crate::settings::parse_duration("999999999999999999m", "--code-timeout").map(drop),
        ),
        (
            "a %-escape before a multi-byte character",
            crate::mail::MailboxUrl::from_str("imaps://u%aé@127.0.0.1/INBOX").map(drop),
        ),
        (
            "a control character in an email",
            crate::settings::parse_email("a\u{1b}[2J@zuub.com", "--email").map(drop),
        ),
    ] {
        let e = result.expect_err(what);
        assert_eq!(exit_code(&e), 2, "{what}: {e:#}");
    }
    let long = "5".repeat(100_000);
    let e = crate::settings::parse_phone(&long).unwrap_err();
    let message = format!("{e:#}");
    assert!(
        message.len() < 400,
        "a 100 KB phone number is not echoed whole: {} bytes",
        message.len()
    );
    assert!(message.contains("more characters"), "{message}");
}
