//! Reading a verification email: its addresses, subject and the 6-digit code. Pure, no I/O.

use anyhow::Context;
use mailparse::{MailAddr, MailHeaderMap, ParsedMail};

/// What the mailbox wait needs from one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMessage {
    /// From addresses, lower-cased, bare (no display name).
    pub from: Vec<String>,
    /// Every recipient in To and Cc, lower-cased, bare.
    pub to: Vec<String>,
    /// The decoded subject (encoded words resolved); empty when absent.
    pub subject: String,
    /// The Date header as the sender wrote it.
    pub date: Option<String>,
    /// The Date header in Unix seconds, when it parses.
    pub sent: Option<i64>,
    /// The 6-digit code, when the message carries exactly one.
    pub code: Option<String>,
}

pub fn parse_message(raw: &[u8]) -> anyhow::Result<ParsedMessage> {
    let mail =
        mailparse::parse_mail(raw).context("the message is not a readable RFC 5322 email")?;
    let headers = &mail.headers;
    let addresses = |name: &str| -> Vec<String> {
        headers
            .get_all_headers(name)
            .into_iter()
            .filter_map(|h| mailparse::addrparse_header(h).ok())
            .flat_map(|list| list.into_inner())
            .flat_map(|addr| match addr {
                MailAddr::Single(single) => vec![single.addr],
                MailAddr::Group(group) => group.addrs.into_iter().map(|s| s.addr).collect(),
            })
            .map(|addr| addr.trim().to_ascii_lowercase())
            .filter(|addr| !addr.is_empty())
            .collect()
    };
    let mut to = addresses("To");
    to.extend(addresses("Cc"));
    Ok(ParsedMessage {
        from: addresses("From"),
        to,
        subject: headers.get_first_value("Subject").unwrap_or_default(),
        date: headers.get_first_value("Date"),
        sent: headers
            .get_first_value("Date")
            .and_then(|d| mailparse::dateparse(&d).ok()),
        code: code_of(&mail),
    })
}

pub fn extract_code(raw: &[u8]) -> anyhow::Result<Option<String>> {
    let mail =
        mailparse::parse_mail(raw).context("the message is not a readable RFC 5322 email")?;
    Ok(code_of(&mail))
}

/// The code every readable text part agrees on. Parts without a code do not vote; parts that
/// disagree make the message ambiguous, and a wrong code costs a portal attempt.
fn code_of(mail: &ParsedMail) -> Option<String> {
    let mut found: Option<String> = None;
    for part in mail.parts() {
        if !part.subparts.is_empty()
            || part.get_content_disposition().disposition == mailparse::DispositionType::Attachment
        {
            continue;
        }
        let text = match part.ctype.mimetype.to_ascii_lowercase().as_str() {
            "text/plain" => match part.get_body() {
                Ok(body) => remove_invisible(&body),
                Err(_) => continue,
            },
            "text/html" => match part.get_body() {
                Ok(body) => html_to_text(&body),
                Err(_) => continue,
            },
            _ => continue,
        };
        match (code_in_text(&text), &found) {
            (None, _) => {}
            (Some(code), None) => found = Some(code),
            (Some(code), Some(earlier)) if code == *earlier => {}
            (Some(_), Some(_)) => return None,
        }
    }
    found
}

/// Characters that templates put inside numbers to stop mail apps from linking them.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}

fn remove_invisible(text: &str) -> String {
    text.chars().filter(|&c| !is_invisible(c)).collect()
}

/// How far after the word "code" the code may stand, in characters.
const CODE_WINDOW: usize = 300;

/// The 6-digit code in plain text: the candidate nearest after a "code", else the only one.
pub fn code_in_text(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let candidates = candidates(&chars);
    if candidates.is_empty() {
        return None;
    }
    let lower: Vec<char> = chars.iter().map(|c| c.to_ascii_lowercase()).collect();
    let mut best: Option<(usize, usize)> = None; // (distance, candidate start)
    for at in
        (0..lower.len().saturating_sub(3)).filter(|&i| lower[i..i + 4] == ['c', 'o', 'd', 'e'])
    {
        let end = at + 4;
        if let Some(&start) = candidates.iter().find(|&&start| start >= end) {
            let distance = start - end;
            if distance <= CODE_WINDOW && best.is_none_or(|(d, _)| distance < d) {
                best = Some((distance, start));
            }
        }
    }
    let start = match best {
        Some((_, start)) => start,
        None if candidates.len() == 1 => candidates[0],
        None => {
            // Several numbers and no "code" to choose by: only a repeated single value is safe.
            let first = &chars[candidates[0]..candidates[0] + 6];
            if candidates.iter().all(|&s| &chars[s..s + 6] == first) {
                candidates[0]
            } else {
                return None;
            }
        }
    };
    Some(chars[start..start + 6].iter().collect())
}

/// Start indexes of 6-digit runs that stand alone: not part of a longer number, a word, a date
/// or a phone number (digits joined by `-`, `/`, `.`, `:` or `,`).
fn candidates(chars: &[char]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        if i - start != 6 {
            continue;
        }
        let before = start.checked_sub(1).map(|b| chars[b]);
        let before2 = start.checked_sub(2).map(|b| chars[b]);
        let after = chars.get(i).copied();
        let after2 = chars.get(i + 1).copied();
        let joins = |sep: Option<char>, next: Option<char>| {
            sep.is_some_and(|c| matches!(c, '-' | '/' | '.' | ':' | ',' | '+'))
                && next.is_some_and(|c| c.is_ascii_digit())
        };
        let glued = before.is_some_and(|c| c.is_alphanumeric() || c == '+')
            || after.is_some_and(|c| c.is_alphanumeric());
        if glued || joins(before, before2) || joins(after, after2) {
            continue;
        }
        out.push(start);
    }
    out
}

/// Elements whose boundaries are line breaks when rendered; everything else is inline, so a code
/// split across spans or table cells comes out joined.
fn is_block(tag: &str) -> bool {
    matches!(
        tag,
        "p" | "div"
            | "br"
            | "tr"
            | "li"
            | "ul"
            | "ol"
            | "table"
            | "tbody"
            | "thead"
            | "tfoot"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "hr"
            | "body"
            | "html"
            | "center"
            | "blockquote"
            | "pre"
            | "section"
            | "header"
            | "footer"
            | "article"
    )
}

/// The text a reader sees in an HTML part, one line per block.
pub fn html_to_text(html: &str) -> String {
    let html = remove_hidden(html);
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html.as_str();
    while !rest.is_empty() {
        match rest.find('<') {
            None => {
                push_text(&mut out, rest);
                break;
            }
            Some(at) => {
                let starts_tag = rest[at + 1..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?'));
                if !starts_tag {
                    // A bare '<' in text ("a < b"), not markup.
                    push_text(&mut out, &rest[..at + 1]);
                    rest = &rest[at + 1..];
                    continue;
                }
                push_text(&mut out, &rest[..at]);
                let tag_end = tag_end(&rest[at..]).map_or(rest.len(), |e| at + e);
                let name = tag_name(&rest[at..tag_end]);
                if is_block(&name) && !out.ends_with('\n') && !out.is_empty() {
                    // Trailing space before a break would only hide the line end from readers.
                    while out.ends_with(' ') {
                        out.pop();
                    }
                    out.push('\n');
                }
                rest = &rest[tag_end..];
            }
        }
    }
    out.trim().to_string()
}

/// Text as rendered: entities decoded, whitespace collapsed. Whitespace-only runs between tags
/// are layout, not text (that is what keeps `<td>4</td>\n<td>8</td>` together).
fn push_text(out: &mut String, raw: &str) {
    if raw.trim().is_empty() {
        return;
    }
    let text = decode_entities(raw);
    for c in text.chars() {
        if is_invisible(c) {
            continue;
        }
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with([' ', '\n']) {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
}

/// Where the tag starting at `text[0] == '<'` ends (past its `>`), minding quoted attributes.
fn tag_end(text: &str) -> Option<usize> {
    if text.starts_with("<!--") {
        return text.find("-->").map(|e| e + 3);
    }
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

fn tag_name(tag: &str) -> String {
    tag.trim_start_matches('<')
        .trim_start_matches('/')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Drops comments and the content of elements never shown (`head`, `style`, `script`, `title`).
fn remove_hidden(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while i < html.len() {
        let Some(rel) = lower[i..].find('<') else {
            out.push_str(&html[i..]);
            break;
        };
        let at = i + rel;
        out.push_str(&html[i..at]);
        if lower[at..].starts_with("<!--") {
            i = lower[at..].find("-->").map_or(html.len(), |e| at + e + 3);
            continue;
        }
        let name = tag_name(&lower[at..]);
        let opening = !lower[at..].starts_with("</");
        if opening && matches!(name.as_str(), "head" | "style" | "script" | "title") {
            let close = format!("</{name}");
            match lower[at..].find(&close) {
                Some(e) => {
                    let close_at = at + e;
                    i = tag_end(&html[close_at..]).map_or(html.len(), |t| close_at + t);
                }
                // An unclosed head ends where the body starts; anything else is dropped whole.
                None if name == "head" => {
                    i = lower[at..].find("<body").map_or(html.len(), |b| at + b);
                }
                None => i = html.len(),
            }
            continue;
        }
        out.push('<');
        i = at + 1;
    }
    out
}

fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .map_or(rest.len(), |e| e + 1);
        let name = &rest[1..end];
        let decoded = if let Some(number) = name.strip_prefix('#') {
            let value = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => number.parse::<u32>().ok(),
            };
            value.and_then(char::from_u32)
        } else {
            named_entity(name)
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end..];
                rest = rest.strip_prefix(';').unwrap_or(rest);
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "nbsp" | "ensp" | "emsp" | "thinsp" => ' ',
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "mdash" => '—',
        "ndash" => '–',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "bull" => '•',
        "middot" => '·',
        "zwnj" => '\u{200C}',
        "zwj" => '\u{200D}',
        "shy" => '\u{00AD}',
        "eacute" => 'é',
        "egrave" => 'è',
        "aacute" => 'á',
        "oacute" => 'ó',
        "iacute" => 'í',
        "uacute" => 'ú',
        "ntilde" => 'ñ',
        "uuml" => 'ü',
        "ouml" => 'ö',
        "auml" => 'ä',
        "ccedil" => 'ç',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/mail")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn text_rules() {
        assert_eq!(code_in_text("Your code is 482913."), Some("482913".into()));
        assert_eq!(code_in_text("Code:482913"), Some("482913".into()));
        // Longer runs, words, dates and phones are not codes.
        assert_eq!(code_in_text("code 4829131"), None);
        assert_eq!(code_in_text("code AB482913"), None);
        assert_eq!(code_in_text("code 482913x"), None);
        assert_eq!(code_in_text("on 2026-01-21 call 1-800-555-0199"), None);
        assert_eq!(code_in_text("code 123-456789"), None);
        assert_eq!(code_in_text("code 482913.50"), None);
        // Nearest after "code" wins over an earlier or farther number.
        assert_eq!(
            code_in_text(
                "Ref 774201\nYour verification code is 482913. This code expires; case 555111"
            ),
            Some("482913".into())
        );
        // Without "code": the only candidate, else nothing.
        assert_eq!(code_in_text("Use 482913 to sign in"), Some("482913".into()));
        assert_eq!(code_in_text("Use 482913 or 774201"), None);
        assert_eq!(
            code_in_text("Use 482913, again 482913"),
            Some("482913".into())
        );
        assert_eq!(code_in_text("nothing here"), None);
    }

    #[test]
    fn html_rules() {
        let text = html_to_text(
            "<html><head><title>code 111111</title><style>.code{color:red} /* 222222 */</style></head>\
             <body><!-- 333333 --><script>var x = 444444;</script><p>Your&nbsp;code&#58;</p>\
             <div><span>48</span><span>29&#x31;3</span></div><p>Tom &amp; Jerry</p></body></html>",
        );
        assert_eq!(text, "Your code:\n482913\nTom & Jerry");
        assert_eq!(code_in_text(&text), Some("482913".into()));
        let cells =
            "<table><tr><td>Code</td></tr>\n<tr>\n  <td>4</td>\n  <td>8</td>\n  <td>2</td>\n  \
                     <td>9</td>\n  <td>1</td>\n  <td>3</td>\n</tr></table>";
        assert_eq!(html_to_text(cells), "Code\n482913");
        // Block boundaries keep numbers apart.
        assert_eq!(
            html_to_text("<p>2026</p><p>01</p>br<br>x"),
            "2026\n01\nbr\nx"
        );
        assert_eq!(html_to_text("48&zwnj;29&#8203;13"), "482913");
        assert_eq!(html_to_text("a &unknown; b & c"), "a &unknown; b & c");
        assert_eq!(html_to_text("<a href=\"x>y\">link</a> text"), "link text");
    }

    #[test]
    fn quoted_printable_text_and_html() {
        let raw = fixture("quoted-printable.eml");
        let message = parse_message(&raw).unwrap();
        assert_eq!(message.code.as_deref(), Some("482913"));
        assert_eq!(message.from, ["no-reply@cignaforhcp.cigna.com"]);
        assert_eq!(message.to, ["office.admin@zuub.com"]);
        assert_eq!(message.subject, "Your Cigna for HCP verification code");
        assert_eq!(
            message.date.as_deref(),
            Some("Wed, 21 Jan 2026 09:14:07 -0600")
        );
    }

    #[test]
    fn base64_text_and_html() {
        assert_eq!(
            extract_code(&fixture("base64.eml")).unwrap().as_deref(),
            Some("730145")
        );
    }

    #[test]
    fn html_only_with_code_split_across_spans_and_cells() {
        assert_eq!(
            extract_code(&fixture("html-split.eml")).unwrap().as_deref(),
            Some("096384")
        );
        assert_eq!(
            extract_code(&fixture("html-table-cells.eml"))
                .unwrap()
                .as_deref(),
            Some("551207")
        );
    }

    #[test]
    fn reference_number_in_footer_is_not_the_code() {
        assert_eq!(
            extract_code(&fixture("footer-reference.eml"))
                .unwrap()
                .as_deref(),
            Some("264810")
        );
    }

    #[test]
    fn latin1_body() {
        let raw = fixture("latin1.eml");
        let message = parse_message(&raw).unwrap();
        assert_eq!(message.code.as_deref(), Some("618302"));
        let mail = mailparse::parse_mail(&raw).unwrap();
        let body = mail.subparts[0].get_body().unwrap();
        assert!(body.contains("Código"), "{body}");
    }

    #[test]
    fn encoded_word_subject_and_cc_recipient() {
        let message = parse_message(&fixture("encoded-subject.eml")).unwrap();
        assert_eq!(message.subject, "Your Cigna for HCP verification code");
        assert_eq!(message.code.as_deref(), Some("907733"));
        assert_eq!(message.to, ["front.desk@zuub.com", "office.admin@zuub.com"]);
    }

    #[test]
    fn message_without_a_code() {
        let message = parse_message(&fixture("no-code.eml")).unwrap();
        assert_eq!(message.code, None);
        assert_eq!(message.from, ["no-reply@cignaforhcp.cigna.com"]);
    }

    #[test]
    fn parts_that_disagree_give_no_code() {
        let raw = b"From: a@b.c\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n\
            --x\r\nContent-Type: text/plain\r\n\r\nYour code is 111111\r\n\
            --x\r\nContent-Type: text/html\r\n\r\n<p>Your code is 222222</p>\r\n--x--\r\n";
        assert_eq!(extract_code(raw).unwrap(), None);
        let one = b"From: a@b.c\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n\
            --x\r\nContent-Type: text/plain\r\n\r\nSee the HTML version.\r\n\
            --x\r\nContent-Type: text/html\r\n\r\n<p>Your code is <b>222222</b></p>\r\n--x--\r\n";
        assert_eq!(extract_code(one).unwrap().as_deref(), Some("222222"));
    }
}
