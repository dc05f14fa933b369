//! The new login's credentials: generated to the portal's rules from a CSPRNG, or checked
//! against them when given.

use anyhow::Result;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;
use serde::Serialize;

use crate::error::bad_input;
use crate::secrets::Secret;

const SPECIALS: &[u8] = b"!@#$%*-_+=?";

#[derive(Debug, Clone, Serialize)]
pub struct SecurityAnswer {
    /// As given, or empty until the flow's `pick` chooses one of the questions the portal's
    /// list offers (`captured.question<N>`).
    pub question: String,
    pub answer: String,
}

#[derive(Debug, Clone)]
pub struct Credentials {
    pub user_id: String,
    pub password: Secret,
    pub security: Vec<SecurityAnswer>,
}

/// User ID: 6–20 characters, starts with a letter; letters, digits, `.`, `-`, `_`.
pub fn check_user_id(id: &str) -> Result<String> {
    let ok_len = (6..=20).contains(&id.chars().count());
    let ok_start = id.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    let ok_chars = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c));
    if !(ok_len && ok_start && ok_chars) {
        return Err(bad_input(format!(
            "--user-id \"{id}\" breaks the portal's rules: 6–20 characters, starting with a \
             letter, only letters, digits, `.`, `-` and `_`"
        )));
    }
    Ok(id.to_string())
}

/// Password: 8–20 characters with upper, lower, digit and special; no spaces; not containing
/// the User ID.
pub fn check_password(password: &Secret, user_id: Option<&str>) -> Result<()> {
    let p = password.expose();
    let n = p.chars().count();
    let ok = (8..=20).contains(&n)
        && p.chars().any(|c| c.is_ascii_uppercase())
        && p.chars().any(|c| c.is_ascii_lowercase())
        && p.chars().any(|c| c.is_ascii_digit())
        && p.chars()
            .any(|c| !c.is_alphanumeric() && !c.is_whitespace())
        && !p.chars().any(char::is_whitespace)
        && !user_id.is_some_and(|u| p.to_lowercase().contains(&u.to_lowercase()));
    if !ok {
        return Err(bad_input(
            "CIGNA_USER_PASSWORD breaks the portal's password rules: 8–20 characters with an \
             upper-case letter, a lower-case letter, a digit and a special character, no spaces, \
             and not containing the User ID (or unset it to have one generated)",
        ));
    }
    Ok(())
}

/// A User ID derived from the office's TIN, `insadmin6789` (easy to recognise), with a random
/// suffix (`insadmin6789k3xq`) so that two offices whose TINs end alike, or two runs for one
/// office, do not meet.
pub fn generate_user_id(tin: &str) -> String {
    let base = format!("insadmin{}", &tin[tin.len() - 4..]);
    let mut rng = rand::rng();
    let suffix: String = (0..4)
        .map(|_| *b"abcdefghjkmnpqrstuvwxyz23456789".choose(&mut rng).unwrap() as char)
        .collect();
    format!("{base}{suffix}")
}

pub fn generate_password(user_id: &str) -> Secret {
    let mut rng = rand::rng();
    loop {
        let mut chars: Vec<u8> = Vec::with_capacity(16);
        chars.push(*b"ABCDEFGHJKLMNPQRSTUVWXYZ".choose(&mut rng).unwrap());
        chars.push(*b"abcdefghijkmnopqrstuvwxyz".choose(&mut rng).unwrap());
        chars.push(*b"23456789".choose(&mut rng).unwrap());
        chars.push(*SPECIALS.choose(&mut rng).unwrap());
        let all: Vec<u8> = [
            &b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"[..],
            SPECIALS,
        ]
        .concat();
        while chars.len() < 16 {
            chars.push(*all.choose(&mut rng).unwrap());
        }
        chars.shuffle(&mut rng);
        let secret = Secret::new(String::from_utf8(chars).expect("ASCII"));
        if check_password(&secret, Some(user_id)).is_ok() {
            return secret;
        }
    }
}

/// Three random answers; the questions are the portal's to offer, chosen on its page.
pub fn generate_security() -> Vec<SecurityAnswer> {
    let mut rng = rand::rng();
    (0..3)
        .map(|_| SecurityAnswer {
            question: String::new(),
            answer: (0..12)
                .map(|_| rng.random_range(b'a'..=b'z') as char)
                .collect(),
        })
        .collect()
}

/// The new login's credentials: what was given, the rest generated.
pub fn make(
    tin: &str,
    user_id: Option<&str>,
    password: Option<&Secret>,
    security: Option<&[SecurityAnswer]>,
) -> Credentials {
    let user_id = user_id.map_or_else(|| generate_user_id(tin), str::to_string);
    let password = password
        .cloned()
        .unwrap_or_else(|| generate_password(&user_id));
    Credentials {
        security: security.map_or_else(generate_security, <[_]>::to_vec),
        user_id,
        password,
    }
}

/// Three `question = answer` lines (a `--security-answers-file`): three different questions,
/// answers not empty. Whether the portal offers each question, its page says (the step that
/// chooses it fails naming the questions it offers). Messages never repeat an answer.
pub fn parse_security_answers(text: &str, origin: &str) -> anyhow::Result<Vec<SecurityAnswer>> {
    let mut answers: Vec<SecurityAnswer> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: String| {
            crate::error::bad_input(format!(
                "{origin} line {}: {why}; write three lines `question = answer` with questions \
                 from the portal's list",
                i + 1,
            ))
        };
        let Some((question, answer)) = line.split_once('=') else {
            return Err(bad("no `=` between question and answer".into()));
        };
        let (question, answer) = (question.trim(), answer.trim());
        if question.is_empty() || question.chars().any(char::is_control) {
            return Err(bad(format!(
                "{} is not a question",
                crate::error::shown(question)
            )));
        }
        if answer.is_empty() {
            return Err(bad(format!("the answer to \"{question}\" is empty")));
        }
        if answers
            .iter()
            .any(|a| a.question.eq_ignore_ascii_case(question))
        {
            return Err(bad(format!("\"{question}\" is asked twice")));
        }
        answers.push(SecurityAnswer {
            question: question.to_string(),
            answer: answer.to_string(),
        });
    }
    if answers.len() != 3 {
        return Err(crate::error::bad_input(format!(
            "{origin} holds {} security answers: the portal takes exactly three different \
             questions, one `question = answer` per line",
            answers.len()
        )));
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_answers_as_a_file_gives_them() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/credentials/security-answers.txt");
        let text = std::fs::read_to_string(&path).unwrap();
        let answers = parse_security_answers(&text, "answers.txt").unwrap();
        assert_eq!(answers.len(), 3);
        assert_eq!(answers[0].question, "In what city were you born?");
        assert_eq!(answers[0].answer, "Springfield = the one in Illinois");
        let given = make("123456789", None, None, Some(&answers));
        assert_eq!(given.security.len(), 3);
        assert_eq!(given.security[2].answer, "Purple Falcon 9");

        for (bad, why) in [
            (
                "What is your favorite food? = pie\n",
                "holds 1 security answers",
            ),
            (" = 9\nx\ny\n", "line 1: \"\" is not a question"),
            (
                "In what city were you born? = a\nIn what city were you born? = b\n",
                "line 2: \"In what city were you born?\" is asked twice",
            ),
            (
                "What is your favorite food? =   \n",
                "line 1: the answer to",
            ),
            ("no equals sign here\n", "line 1: no `=`"),
        ] {
            let err = parse_security_answers(bad, "answers.txt").unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 2);
            let msg = format!("{err:#}");
            assert!(msg.contains(why), "{why:?} not in {msg}");
        }
    }

    #[test]
    fn generated_credentials_follow_the_rules() {
        let mut ids = std::collections::HashSet::new();
        for _ in 0..200 {
            let c = make("123456789", None, None, None);
            assert!(
                c.user_id.starts_with("insadmin6789") && c.user_id.len() == 16,
                "{}",
                c.user_id
            );
            ids.insert(c.user_id.clone());
            check_user_id(&generate_user_id("123456789")).unwrap();
            check_user_id(&c.user_id).unwrap();
            // The portal's rules as the contract states them, checked here on their own: not
            // by `check_password`, which `generate_password` loops on until it passes.
            let p = c.password.expose();
            assert_eq!(p.len(), 16, "{p}");
            assert!(p.bytes().any(|b| b.is_ascii_uppercase()), "{p}");
            assert!(p.bytes().any(|b| b.is_ascii_lowercase()), "{p}");
            assert!(p.bytes().any(|b| b.is_ascii_digit()), "{p}");
            assert!(p.bytes().any(|b| SPECIALS.contains(&b)), "{p}");
            assert!(p.bytes().all(|b| b.is_ascii_graphic()), "{p}");
            // Nothing a person could misread when typing it off a screen.
            assert!(!p.contains(['0', 'O', '1', 'l', 'I']), "{p}");
            assert!(!p.to_lowercase().contains(&c.user_id.to_lowercase()), "{p}");
            // Three answers; the questions are chosen from the portal's page.
            assert_eq!(c.security.len(), 3);
            assert!(c.security.iter().all(|s| s.question.is_empty()));
            assert!(c
                .security
                .iter()
                .all(|s| s.answer.len() == 12 && s.answer.bytes().all(|b| b.is_ascii_lowercase())));
        }
        assert!(
            ids.len() > 190,
            "the suffix is random: {} distinct",
            ids.len()
        );
    }

    #[test]
    fn bad_given_values_are_refused() {
        assert!(check_user_id("1abcdef").is_err());
        assert!(check_user_id("abc").is_err());
        assert!(check_user_id("abc def1").is_err());
        assert!(check_password(&Secret::new("short1!A"), None).is_ok());
        assert!(check_password(&Secret::new("nouppercase1!"), None).is_err());
        assert!(check_password(&Secret::new("Has Space1!"), None).is_err());
        assert!(check_password(&Secret::new("Xinsadmin1!"), Some("insadmin")).is_err());
    }
}
