//! Raw command-line values and environment turned into checked settings, before any I/O.
//!
//! Every check here ends in exit 2 with a message naming the input, what is wrong and how to
//! fix it, so nothing reaches the portal on bad input.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use crate::cli::{ExistingArgs, LoginArgs, MailboxArgs, RegisterArgs, TimingArgs};
use crate::error::bad_input;
use crate::mail::{ImapAuth, MailboxConfig, MailboxUrl, TokenSource};
use crate::secrets::Secret;

/// The profile the setup guide prescribes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Profile {
    pub first_name: String,
    pub last_name: String,
    /// As the Add New User drop-down names it.
    pub job_role_option: String,
    /// As typed into Create Your Profile.
    pub job_role: String,
    pub address: String,
    pub date_of_birth: String,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            first_name: "Insurance".into(),
            last_name: "Admin".into(),
            job_role_option: "Administration support".into(),
            job_role: "Administration Support".into(),
            address: "123 Zuub Street, Zuub, CA, 60515".into(),
            date_of_birth: "01/01/1980".into(),
        }
    }
}

/// How a run paces itself and what it keeps.
#[derive(Debug, Clone)]
pub struct Timing {
    pub code_timeout: Duration,
    pub action_timeout: Duration,
    pub retries: u32,
    pub trace: bool,
}

/// The new login a run creates, and where its run is kept: what `existing` and `register`
/// share, checked.
#[derive(Debug, Clone)]
pub struct NewLogin {
    pub tin: Tin,
    pub email: String,
    pub phone: String,
    pub portal_url: url::Url,
    pub browser: Option<PathBuf>,
    pub user_id: Option<String>,
    pub user_password: Option<Secret>,
    /// The three security questions and answers, when given (else generated).
    pub security: Option<Vec<crate::credentials::SecurityAnswer>>,
    pub out: Option<PathBuf>,
    pub runs_dir: PathBuf,
    pub flow_file: Option<PathBuf>,
    pub json: bool,
    pub timing: Timing,
    pub profile: Profile,
}

/// Everything `existing` needs, checked.
#[derive(Debug, Clone)]
pub struct ExistingSettings {
    pub login: NewLogin,
    pub office_user: String,
    pub office_password: Secret,
    pub mailbox: MailboxConfig,
    /// `--entitlement` as given: the flow checks them against what its page offers.
    pub entitlements: Vec<String>,
    pub office_code: crate::office_code::OfficeCode,
    /// An office login that cannot add users registers a new account instead.
    pub or_register: bool,
}

/// Everything `register` needs, checked. The mailbox is only remembered for `activate`.
#[derive(Debug, Clone)]
pub struct RegisterSettings {
    pub login: NewLogin,
    pub imap_url: Option<MailboxUrl>,
    pub imap_ca: Option<PathBuf>,
}

/// A 9-digit TIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tin(String);

impl Tin {
    pub fn parse(raw: &str) -> Result<Tin> {
        let digits: String = raw.chars().filter(|c| *c != '-' && *c != ' ').collect();
        if digits.len() != 9 || !digits.chars().all(|c| c.is_ascii_digit()) {
            let count = digits.chars().filter(char::is_ascii_digit).count();
            let what = if digits.chars().any(|c| !c.is_ascii_digit()) {
                "has characters other than digits".to_string()
            } else {
                format!("has {count} digits")
            };
            return Err(bad_input(format!(
                "--tin {} {what}: a TIN is 9 digits, like 123456789 or 12-3456789",
                crate::error::shown(raw)
            )));
        }
        Ok(Tin(digits))
    }

    pub fn digits(&self) -> &str {
        &self.0
    }

    /// As the portal shows it: 12-3456789.
    pub fn dashed(&self) -> String {
        format!("{}-{}", &self.0[..2], &self.0[2..])
    }
}

pub fn parse_email(raw: &str, flag: &str) -> Result<String> {
    let raw = raw.trim();
    let ok = match raw.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !raw
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '<')
                && !domain.contains('@')
        }
        None => false,
    };
    if !ok {
        return Err(bad_input(format!(
            "{flag} {} is not an email address: give one like insurance.admin@example.com",
            crate::error::shown(raw)
        )));
    }
    Ok(raw.to_string())
}

pub fn parse_phone(raw: &str) -> Result<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let junk = raw
        .chars()
        .any(|c| !(c.is_ascii_digit() || " ()-.+".contains(c)));
    let digits = match digits.len() {
        11 if digits.starts_with('1') => digits[1..].to_string(),
        _ => digits,
    };
    if digits.len() != 10 || junk {
        return Err(bad_input(format!(
            "--phone {} is not a 10-digit phone number: give one like 5551234567 or (555) 123-4567",
            crate::error::shown(raw)
        )));
    }
    Ok(digits)
}

/// "90s", "5m", "1500ms", "1h", "2m30s".
pub fn parse_duration(raw: &str, flag: &str) -> Result<Duration> {
    let bad = || {
        bad_input(format!(
            "{flag} {} is not a duration: write it like 30s, 5m, 1500ms or 1h",
            crate::error::shown(raw)
        ))
    };
    let too_long = || {
        bad_input(format!(
            "{flag} {} is longer than the most any wait may be ({}h): give a shorter one",
            crate::error::shown(raw),
            MAX_DURATION.as_secs() / 3600
        ))
    };
    let s = raw.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if n_end == 0 {
            return Err(bad());
        }
        // More digits than any duration up to the maximum has: too long, not malformed.
        let n: u64 = rest[..n_end].parse().map_err(|_| too_long())?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..u_end] {
            "ms" => Some(Duration::from_millis(n)),
            "s" => Some(Duration::from_secs(n)),
            "m" => n.checked_mul(60).map(Duration::from_secs),
            "h" => n.checked_mul(3600).map(Duration::from_secs),
            _ => return Err(bad()),
        };
        total = unit
            .and_then(|u| total.checked_add(u))
            .filter(|t| *t <= MAX_DURATION)
            .ok_or_else(too_long)?;
        rest = &rest[u_end..];
    }
    Ok(total)
}

/// The longest duration any flag takes: a week. Waits are added to clocks; a bound keeps that
/// arithmetic far from overflowing.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A secret from its environment variable or from a file; the file must not be readable by
/// others.
pub fn read_secret(env: &str, file: Option<&Path>, file_flag: &str) -> Result<Option<Secret>> {
    if let Some(path) = file {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .map_err(|e| bad_input(format!("cannot read {file_flag} {}: {e}", path.display())))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(bad_input(format!(
                "{file_flag} {} can be read by other users: run `chmod 600 {}` first",
                path.display(),
                path.display()
            )));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("cannot read {file_flag} {}: {e}", path.display())))?;
        let value = text.trim_end_matches(['\n', '\r']);
        if value.is_empty() {
            return Err(bad_input(format!(
                "{file_flag} {} is empty",
                path.display()
            )));
        }
        return Ok(Some(Secret::new(value)));
    }
    match std::env::var(env) {
        Ok(v) if !v.is_empty() => Ok(Some(Secret::new(v))),
        _ => Ok(None),
    }
}

/// How often to poll a mailbox without IDLE: a quarter second at the least, so a server is
/// never asked in a tight loop.
pub fn parse_poll_every(raw: &str) -> Result<Duration> {
    let every = parse_duration(raw, "--poll-every")?;
    if every < Duration::from_millis(250) {
        return Err(bad_input(format!(
            "--poll-every {} is too often: poll no more than four times a second \
             (250ms or more; the default is 2s)",
            crate::error::shown(raw)
        )));
    }
    Ok(every)
}

/// As `read_secret`; when neither gives it and stdin is a terminal, asks without echo.
pub fn read_secret_or_ask(
    env: &str,
    file: Option<&Path>,
    file_flag: &str,
    prompt: &str,
) -> Result<Option<Secret>> {
    match read_secret(env, file, file_flag)? {
        Some(secret) => Ok(Some(secret)),
        None => crate::terminal::ask_secret(prompt),
    }
}

/// A date of birth as the portal takes it: MM/DD/YYYY, a real date, someone 18 to 120 years
/// old.
pub fn parse_date_of_birth(raw: &str) -> Result<String> {
    let raw = raw.trim();
    let bad = |why: &str| {
        bad_input(format!(
            "--date-of-birth {} {why}: write it as MM/DD/YYYY, like 01/31/1980",
            crate::error::shown(raw)
        ))
    };
    let parts: Vec<&str> = raw.split('/').collect();
    let [m, d, y] = parts[..] else {
        return Err(bad("is not MM/DD/YYYY"));
    };
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if m.len() != 2 || d.len() != 2 || y.len() != 4 || ![m, d, y].into_iter().all(digits) {
        return Err(bad("is not MM/DD/YYYY"));
    }
    let (Ok(m), Ok(d), Ok(y)) = (m.parse::<u8>(), d.parse::<u8>(), y.parse::<i32>()) else {
        return Err(bad("is not MM/DD/YYYY"));
    };
    let month = time::Month::try_from(m).map_err(|_| bad("has no such month"))?;
    let date = time::Date::from_calendar_date(y, month, d).map_err(|_| bad("is not a date"))?;
    let today = time::OffsetDateTime::now_utc().date();
    let age = today.year()
        - date.year()
        - i32::from((today.month() as u8, today.day()) < (date.month() as u8, date.day()));
    if !(18..=120).contains(&age) {
        return Err(bad(
            "is not the birth date of an adult (18 to 120 years old)",
        ));
    }
    Ok(raw.to_string())
}

impl Profile {
    /// The guide's profile, with what `--first-name`, `--job-role`, … (or the settings file)
    /// change.
    pub fn from_args(args: &crate::cli::ProfileArgs) -> Result<Profile> {
        let mut profile = Profile::default();
        let text = |value: &Option<String>, flag: &str| -> Result<Option<String>> {
            match value.as_deref().map(str::trim) {
                None => Ok(None),
                Some("") => Err(bad_input(format!(
                    "{flag} is empty: give a value or leave it out"
                ))),
                Some(v) if v.chars().count() > 100 || v.chars().any(char::is_control) => {
                    Err(bad_input(format!(
                        "{flag} {} is too long or has control characters",
                        crate::error::shown(v)
                    )))
                }
                Some(v) => Ok(Some(v.to_string())),
            }
        };
        if let Some(v) = text(&args.first_name, "--first-name")? {
            profile.first_name = v;
        }
        if let Some(v) = text(&args.last_name, "--last-name")? {
            profile.last_name = v;
        }
        if let Some(v) = text(&args.job_role, "--job-role")? {
            // The Add New User list and the typed profile field take the same words.
            profile.job_role_option = v.clone();
            profile.job_role = v;
        }
        if let Some(v) = text(&args.address, "--address")? {
            profile.address = v;
        }
        if let Some(v) = &args.date_of_birth {
            profile.date_of_birth = parse_date_of_birth(v)?;
        }
        Ok(profile)
    }

    /// As recorded in a run's journal (the `profile` input), for `resume` and `step`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// A recorded profile; what it lacks (an older run's) is the default.
    pub fn from_json(value: Option<&serde_json::Value>) -> Profile {
        value
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }
}

pub fn default_runs_dir() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    state.join("cigna-setup").join("runs")
}

/// The token command's program and arguments as the settings file gives them
/// (`imap-token-command = ["PROGRAM", "ARG", …]`): arguments never come from argv or the
/// environment, where other users or a shell history could read them. The program named by a
/// flag or a variable gets them when it is the file's.
static FILE_TOKEN_COMMAND: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Called once at start-up when the settings file has a token command.
pub fn set_file_token_command(argv: Vec<String>) {
    let _ = FILE_TOKEN_COMMAND.set(argv);
}

/// How the mailbox login is sent, as the flag says.
pub fn imap_auth(arg: crate::cli::ImapAuthArg) -> ImapAuth {
    use crate::cli::ImapAuthArg;
    match arg {
        ImapAuthArg::Login => ImapAuth::Login,
        ImapAuthArg::Plain => ImapAuth::Plain,
        ImapAuthArg::XOAuth2 => ImapAuth::XOAuth2,
        ImapAuthArg::OAuthBearer => ImapAuth::OAuthBearer,
    }
}

/// The one token source given (none is fine here; two is exit 2).
fn token_source(args: &MailboxArgs) -> Result<Option<TokenSource>> {
    let mut given = Vec::new();
    if let Some(token) = read_secret("CIGNA_IMAP_TOKEN", None, "")? {
        crate::secrets::global().register(token.expose());
        // As a file's: a line break pasted with it is not part of it.
        given.push(TokenSource::Env(Secret::new(token.expose().trim())));
    }
    if let Some(path) = &args.imap_token_file {
        given.push(TokenSource::File(path.clone()));
    }
    if let Some(program) = &args.imap_token_command {
        let args = FILE_TOKEN_COMMAND
            .get()
            .filter(|argv| argv.first().map(PathBuf::from).as_ref() == Some(program))
            .map(|argv| argv[1..].to_vec())
            .unwrap_or_default();
        given.push(TokenSource::Command {
            program: program.clone(),
            args,
        });
    }
    if given.len() > 1 {
        let named: Vec<String> = given.iter().map(TokenSource::describe).collect();
        return Err(bad_input(format!(
            "the mailbox's access token can come from one place only, and {} are all given: \
             keep one of CIGNA_IMAP_TOKEN, --imap-token-file and --imap-token-command (or their \
             variables and settings)",
            named.join(" and ")
        )));
    }
    Ok(given.pop())
}

pub fn mailbox(args: &MailboxArgs) -> Result<MailboxConfig> {
    let raw = args.imap_url.as_deref().ok_or_else(|| {
        bad_input(
            "no mailbox given: pass --imap-url imaps://USER@HOST/INBOX (or set CIGNA_IMAP_URL) \
             for the mailbox that receives the verification codes",
        )
    })?;
    let url: MailboxUrl = raw.parse()?;
    let auth = imap_auth(args.imap_auth);
    let token = token_source(args)?;
    let mut config = match (auth.uses_token(), token) {
        (true, Some(token)) => {
            token.check()?;
            MailboxConfig::with_token(url, auth, token)
        }
        (true, None) => {
            return Err(bad_input(format!(
                "--imap-auth {} signs in to the mailbox {url} with an OAuth2 access token, and \
                 none was given: set CIGNA_IMAP_TOKEN, or pass --imap-token-file FILE (mode \
                 0600) or --imap-token-command PROGRAM (README's mailbox section shows one for \
                 Google Workspace and for Microsoft 365)",
                auth.name()
            )))
        }
        (false, Some(token)) => {
            return Err(bad_input(format!(
                "{} gives an OAuth2 access token, but --imap-auth is {}, which signs in with a \
                 password: pass --imap-auth xoauth2 (or oauthbearer) to use the token, or remove \
                 it to use the password",
                token.describe(),
                auth.name()
            )))
        }
        (false, None) => {
            let password = mailbox_password(args, &url)?;
            MailboxConfig::new(url, password)
        }
    };
    config.auth = auth;
    mailbox_rest(args, config)
}

/// The mailbox password, from CIGNA_IMAP_PASSWORD, the file, or asked at a terminal.
fn mailbox_password(args: &MailboxArgs, url: &MailboxUrl) -> Result<Secret> {
    read_secret_or_ask(
        "CIGNA_IMAP_PASSWORD",
        args.imap_password_file.as_deref(),
        "--imap-password-file",
        &format!("Password of the mailbox {url}: "),
    )?
    .ok_or_else(|| {
        bad_input(format!(
            "no password for the mailbox {url}: set CIGNA_IMAP_PASSWORD or pass \
             --imap-password-file FILE (passwords are never taken from the command line); a \
             mailbox that takes no passwords (Microsoft 365, most Google Workspace) needs \
             --imap-auth xoauth2 and an access token"
        ))
    })
}

/// The rest of the mailbox settings: CA, folders, polling.
fn mailbox_rest(args: &MailboxArgs, mut config: MailboxConfig) -> Result<MailboxConfig> {
    if let Some(ca) = &args.imap_ca {
        check_ca_file(ca)?;
    }
    let mut folders = Vec::new();
    for folder in &args.imap_mailboxes {
        let folder = folder.trim();
        if folder.is_empty() || folder.contains('"') || folder.chars().any(char::is_control) {
            return Err(bad_input(format!(
                "--imap-mailbox {} is not a folder name: give a folder as `mail check` \
                 lists it, like INBOX or Cigna",
                crate::error::shown(folder)
            )));
        }
        if !folders.iter().any(|f: &String| f == folder) {
            folders.push(folder.to_string());
        }
    }
    config.ca_file = args.imap_ca.clone();
    config.folders = folders;
    config.poll_every = parse_poll_every(&args.poll_every)?;
    Ok(config)
}

pub fn timing(args: &TimingArgs) -> Result<Timing> {
    Ok(Timing {
        code_timeout: parse_duration(&args.code_timeout, "--code-timeout")?,
        action_timeout: parse_duration(&args.action_timeout, "--action-timeout")?,
        retries: args.retries,
        trace: args.trace,
    })
}

/// Whether the portal is on this machine (the fixture portal): the browser then resolves no
/// other host, and schedules may be as tight as a test needs.
pub fn is_loopback(portal: &url::Url) -> bool {
    portal
        .host_str()
        .is_some_and(|h| h == "127.0.0.1" || h == "localhost" || h == "[::1]")
}

/// The shortest `activate --every` against a portal not on this machine: signing in more often
/// than once a minute while an access manager decides is hammering the portal's login.
pub const MIN_APPROVAL_EVERY: Duration = Duration::from_secs(60);

/// `activate --every`, held to [`MIN_APPROVAL_EVERY`] unless the portal is on this machine.
pub fn approval_every(every: Duration, portal: &url::Url) -> Result<Duration> {
    if every < MIN_APPROVAL_EVERY && !is_loopback(portal) {
        return Err(bad_input(format!(
            "--every {every:?} is too often: sign in again to the portal at most once a minute \
             while waiting for approval (--every 1m or more)"
        )));
    }
    Ok(every)
}

pub fn portal_url(raw: &str) -> Result<url::Url> {
    let url = url::Url::parse(raw).map_err(|e| {
        bad_input(format!(
            "--portal-url {} is not a URL ({e}): give the portal's entry page, like \
             https://cignaforhcp.cigna.com/",
            crate::error::shown(raw)
        ))
    })?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(bad_input(format!(
            "--portal-url {} must be an http(s) URL",
            crate::error::shown(raw)
        )));
    }
    Ok(url)
}

impl NewLogin {
    pub fn from_args(args: &LoginArgs) -> Result<Self> {
        let tin = Tin::parse(args.tin.as_deref().ok_or_else(|| {
            bad_input("--tin is missing: give the office's 9-digit TIN (or set CIGNA_TIN)")
        })?)?;
        let email = parse_email(
            args.email.as_deref().ok_or_else(|| {
                bad_input(
                    "--email is missing: give the new login's email address, one whose mail \
                     reaches --imap-url (or set CIGNA_EMAIL)",
                )
            })?,
            "--email",
        )?;
        let phone = parse_phone(args.phone.as_deref().ok_or_else(|| {
            bad_input("--phone is missing: give the office's 10-digit phone number")
        })?)?;
        let portal_url = portal_url(&args.portal.portal_url)?;
        let user_id = match &args.user_id {
            Some(id) => Some(crate::credentials::check_user_id(id)?),
            None => None,
        };
        let user_password = read_secret("CIGNA_USER_PASSWORD", None, "")?;
        let security = match &args.security_answers_file {
            Some(path) => {
                let text = read_secret("", Some(path), "--security-answers-file")?
                    .map(|s| s.expose().to_string())
                    .unwrap_or_default();
                let answers = crate::credentials::parse_security_answers(
                    &text,
                    &format!("--security-answers-file {}", path.display()),
                )?;
                for a in &answers {
                    crate::secrets::global().register(&a.answer);
                }
                Some(answers)
            }
            None => None,
        };
        if let Some(p) = &user_password {
            crate::credentials::check_password(p, user_id.as_deref())?;
        }
        Ok(NewLogin {
            tin,
            email,
            phone,
            portal_url,
            browser: args.portal.browser.clone(),
            user_id,
            user_password,
            security,
            out: args.out.clone(),
            runs_dir: args.runs_dir.clone().unwrap_or_else(default_runs_dir),
            flow_file: args.flow.clone(),
            json: args.json,
            timing: timing(&args.timing)?,
            profile: Profile::from_args(&args.profile)?,
        })
    }
}

impl ExistingSettings {
    pub fn from_args(args: &ExistingArgs) -> Result<Self> {
        let login = NewLogin::from_args(&args.login)?;
        let office_user = args
            .office_user
            .clone()
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| {
                bad_input(
                    "--office-user is missing: give the office's own portal User ID (or set \
                     CIGNA_OFFICE_USER)",
                )
            })?;
        let office_password = read_secret_or_ask(
            "CIGNA_OFFICE_PASSWORD",
            args.office_password_file.as_deref(),
            "--office-password-file",
            &format!("Portal password of the office user {office_user}: "),
        )?
        .ok_or_else(|| {
            bad_input(
                "the office's portal password is missing: set CIGNA_OFFICE_PASSWORD or pass \
                 --office-password-file FILE (passwords are never taken from the command line)",
            )
        })?;
        let mailbox = mailbox(&args.mailbox)?;
        Ok(ExistingSettings {
            login,
            office_user,
            office_password,
            mailbox,
            entitlements: args.entitlements.clone(),
            office_code: crate::office_code::OfficeCode::from_args(
                args.office_code.office_code_file.as_deref(),
                args.office_code.office_code_stdin,
            )?,
            or_register: args.or_register,
        })
    }
}

impl RegisterSettings {
    pub fn from_args(args: &RegisterArgs) -> Result<Self> {
        let login = NewLogin::from_args(&args.login)?;
        let imap_url = args
            .imap_url
            .as_deref()
            .map(str::parse::<MailboxUrl>)
            .transpose()?;
        if let Some(ca) = &args.imap_ca {
            check_ca_file(ca)?;
        }
        Ok(RegisterSettings {
            login,
            imap_url,
            imap_ca: args.imap_ca.clone(),
        })
    }
}

fn check_ca_file(ca: &Path) -> Result<()> {
    if !ca.is_file() {
        return Err(bad_input(format!(
            "--imap-ca {}: no such file; give the PEM file of the CA that signed the \
             mailbox's certificate",
            ca.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_of_birth() {
        assert_eq!(parse_date_of_birth(" 02/29/1984 ").unwrap(), "02/29/1984");
        for bad in [
            "02/29/1985",
            "13/01/1980",
            "1/1/1980",
            "+1/+1/1980",
            "01-01-1980",
            "01/01/2020",
            "01/01/1880",
        ] {
            let err = parse_date_of_birth(bad).expect_err(bad);
            assert_eq!(crate::error::exit_code(&err), 2, "{bad}");
            assert!(format!("{err}").contains("MM/DD/YYYY"), "{err}");
        }
    }

    #[test]
    fn approval_is_asked_at_most_once_a_minute_of_a_real_portal() {
        let real = url::Url::parse("https://cignaforhcp.cigna.com/").unwrap();
        let here = url::Url::parse("http://127.0.0.1:8080/").unwrap();
        let err = approval_every(Duration::ZERO, &real).unwrap_err();
        assert!(format!("{err}").contains("--every 1m or more"), "{err}");
        assert!(approval_every(Duration::from_secs(59), &real).is_err());
        assert_eq!(
            approval_every(Duration::from_secs(60), &real).unwrap(),
            Duration::from_secs(60)
        );
        // The fixture portal, in tests: as tight as the test needs.
        assert_eq!(
            approval_every(Duration::from_secs(1), &here).unwrap(),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn polling_is_never_a_tight_loop() {
        assert_eq!(
            parse_poll_every("500ms").unwrap(),
            Duration::from_millis(500)
        );
        for bad in ["0s", "0ms", "100ms"] {
            let err = parse_poll_every(bad).expect_err(bad);
            assert!(format!("{err}").contains("250ms or more"), "{err}");
        }
    }

    #[test]
    fn tins() {
        assert_eq!(Tin::parse("12-3456789").unwrap().digits(), "123456789");
        assert_eq!(Tin::parse("123456789").unwrap().dashed(), "12-3456789");
        let e = Tin::parse("12345678").unwrap_err().to_string();
        assert!(e.contains("has 8 digits") && e.contains("9 digits"), "{e}");
        let e = Tin::parse("12345678a").unwrap_err().to_string();
        assert!(e.contains("other than digits"), "{e}");
    }

    #[test]
    fn phones_and_emails() {
        assert_eq!(parse_phone("(555) 123-4567").unwrap(), "5551234567");
        assert_eq!(parse_phone("+1 555 123 4567").unwrap(), "5551234567");
        assert!(parse_phone("555-1234").is_err());
        assert!(parse_email("a@b.co", "--email").is_ok());
        assert!(parse_email("a@b", "--email").is_err());
        assert!(parse_email("nope", "--email").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m", "x").unwrap(), Duration::from_secs(300));
        assert_eq!(
            parse_duration("2m30s", "x").unwrap(),
            Duration::from_secs(150)
        );
        assert_eq!(
            parse_duration("1500ms", "x").unwrap(),
            Duration::from_millis(1500)
        );
        assert!(parse_duration("5", "x").is_err());
        assert!(parse_duration("soon", "x").is_err());
    }
}
