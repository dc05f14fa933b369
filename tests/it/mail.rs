//! The mailbox against a real Dovecot: marks, IDLE and polling waits, decoys, STARTTLS, and the
//! errors (and exit codes) a user sees when the mailbox misbehaves.

use std::time::{Duration, Instant};

use cigna_fixture::dovecot::{Dovecot, DovecotOptions};
use cigna_setup::error::exit_code;
use cigna_setup::mail::{append, ImapAuth, Mailbox, MailboxConfig, MailboxUrl, Mark};
use cigna_setup::secrets::Secret;

use crate::support::dovecot::{
    code_email, recorded_email, start, DovecotMailbox as _, MAILBOX_PASSWORD, MAILBOX_USER,
};

/// The portal's sender and subject (portal-contract.md), as these tests' emails carry them.
const PORTAL_SENDER: &str = "no-reply@cignaforhcp.cigna.com";
const PORTAL_SUBJECT: &str = "Your Cigna for HCP verification code";
const OFFICE: &str = "office.admin@zuub.com";
const OTHER_OFFICE: &str = "front.desk@smiles.example";

/// Debug logs (with the IDLE-notice→code latency) when run with RUST_LOG=cigna_setup::mail=debug.
fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

async fn dovecot(idle: bool) -> Dovecot {
    logs();
    let started = Instant::now();
    let dovecot = tokio::task::spawn_blocking(move || start(idle))
        .await
        .unwrap();
    eprintln!("Dovecot ready after {:?}", started.elapsed());
    dovecot
}

/// Delivers messages one after the other, off the async runtime; returns when the last is in.
async fn deliver(config: &MailboxConfig, messages: Vec<Vec<u8>>) -> Instant {
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        for raw in messages {
            append(&config, &raw).unwrap_or_else(|e| panic!("APPEND failed: {e:#}"));
        }
        Instant::now()
    })
    .await
    .unwrap()
}

fn no_code_email(to: &str) -> Vec<u8> {
    format!(
        "From: Cigna for HCP <{PORTAL_SENDER}>\r\nTo: {to}\r\nSubject: {}\r\n\r\nWe could not \
         send a verification code right now. Please select Resend code.\r\n",
        PORTAL_SUBJECT
    )
    .into_bytes()
}

/// A mailbox session, ready, and its mark.
async fn open_marked(config: &MailboxConfig) -> (Mailbox, Mark) {
    let mailbox = Mailbox::open(config.clone());
    mailbox.ready().await.unwrap();
    let mark = mailbox.mark().await.unwrap();
    (mailbox, mark)
}

/// Opens, waits for ready, marks; then delivers `messages` while waiting for OFFICE's code.
async fn deliver_and_wait(
    config: MailboxConfig,
    deliverer: &MailboxConfig,
    messages: Vec<Vec<u8>>,
) -> String {
    let (mailbox, mark) = open_marked(&config).await;
    let (found, delivered) = tokio::join!(
        async {
            let found = mailbox
                .wait_code(
                    &mark,
                    "Office.Admin@ZUUB.com",
                    PORTAL_SENDER,
                    Duration::from_secs(30),
                )
                .await;
            (found, Instant::now())
        },
        deliver(deliverer, messages)
    );
    let (found, found_at) = found;
    let found = found.unwrap_or_else(|e| panic!("no code: {e:#}"));
    eprintln!(
        "code found {:?} after the last APPEND returned (uid {})",
        found_at.saturating_duration_since(delivered),
        found.uid
    );
    assert_eq!(found.subject, PORTAL_SUBJECT);
    found.code
}

#[tokio::test]
async fn finds_the_code_for_the_right_recipient_among_decoys() {
    let dovecot = dovecot(true).await;
    let config = dovecot.mailbox(MAILBOX_USER);
    // An older code for the same address, delivered before the mark.
    deliver(&config, vec![code_email(PORTAL_SENDER, OFFICE, "111111")]).await;

    // All of them after the mark and in the mailbox before the wait looks, the right one
    // neither first nor last: neither "newest wins" nor "first wins" picks it, only the sender
    // and recipient filters do.
    let (mailbox, mark) = open_marked(&config).await;
    deliver(
        &config,
        vec![
            code_email(PORTAL_SENDER, OTHER_OFFICE, "222222"),
            code_email("phish@cigna-hcp.example", OFFICE, "333333"),
            code_email(PORTAL_SENDER, OFFICE, "482913"),
            no_code_email(OFFICE),
            code_email(PORTAL_SENDER, OTHER_OFFICE, "444444"),
            code_email("phish@cigna-hcp.example", OFFICE, "555555"),
        ],
    )
    .await;
    let found = mailbox
        .wait_code(
            &mark,
            "Office.Admin@ZUUB.com",
            PORTAL_SENDER,
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("no code: {e:#}"));
    assert_eq!(found.code, "482913");
}

#[tokio::test]
async fn starttls_on_the_imap_port() {
    let dovecot = dovecot(true).await;
    let url: MailboxUrl = dovecot.imap_url(MAILBOX_USER).parse().unwrap();
    let starttls = dovecot.mailbox_starttls(MAILBOX_USER);
    assert_eq!(url, starttls.url);
    let code = deliver_and_wait(
        starttls,
        &dovecot.mailbox(MAILBOX_USER),
        vec![code_email(PORTAL_SENDER, OFFICE, "730145")],
    )
    .await;
    assert_eq!(code, "730145");
}

#[tokio::test]
async fn polls_when_the_server_has_no_idle() {
    let dovecot = dovecot(false).await;
    let config = dovecot.mailbox(MAILBOX_USER);
    let code = deliver_and_wait(
        config.clone(),
        &config,
        vec![
            code_email(PORTAL_SENDER, OTHER_OFFICE, "222222"),
            code_email(PORTAL_SENDER, OFFICE, "551207"),
        ],
    )
    .await;
    assert_eq!(code, "551207");
}

#[tokio::test]
async fn wrong_password_is_an_environment_error_without_the_password() {
    let dovecot = dovecot(true).await;
    let mut config = dovecot.mailbox(MAILBOX_USER);
    config.password = Secret::new("Not-The-Password-9431");
    let mailbox = Mailbox::open(config.clone());
    let err = mailbox.ready().await.expect_err("login must fail");
    let message = format!("{err:#} {err:?}");
    eprintln!("{err:#}");
    assert_eq!(exit_code(&err), 5, "{message}");
    assert!(!message.contains("Not-The-Password-9431"), "{message}");
    assert!(!message.contains(MAILBOX_PASSWORD), "{message}");
    assert!(message.contains(&config.url.to_string()), "{message}");
    assert!(message.contains("CIGNA_IMAP_PASSWORD"), "{message}");
}

#[tokio::test]
async fn unreachable_port_is_an_environment_error() {
    logs();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = MailboxConfig::new(
        format!("imaps://{MAILBOX_USER}@127.0.0.1:{port}/INBOX")
            .parse()
            .unwrap(),
        Secret::new(MAILBOX_PASSWORD),
    );
    config.connect_timeout = Duration::from_secs(2);
    let mailbox = Mailbox::open(config.clone());
    let err = mailbox.ready().await.expect_err("nothing listens there");
    let message = format!("{err:#}");
    eprintln!("{message}");
    assert_eq!(exit_code(&err), 5, "{message}");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("host and port"), "{message}");
    // Later calls report the same problem instead of hanging.
    let err = mailbox.mark().await.expect_err("still unreachable");
    assert_eq!(exit_code(&err), 5, "{err:#}");
}

#[tokio::test]
async fn untrusted_certificate_is_an_environment_error_naming_imap_ca() {
    let dovecot = dovecot(true).await;
    let mut config = dovecot.mailbox(MAILBOX_USER);
    config.ca_file = None;
    let err = Mailbox::open(config).ready().await.expect_err("unknown CA");
    let message = format!("{err:#}");
    eprintln!("{message}");
    assert_eq!(exit_code(&err), 5, "{message}");
    assert!(message.contains("--imap-ca"), "{message}");
}

#[tokio::test]
async fn timeout_with_only_decoys_says_what_was_seen() {
    let dovecot = dovecot(true).await;
    let config = dovecot.mailbox(MAILBOX_USER);
    let (mailbox, mark) = open_marked(&config).await;
    deliver(
        &config,
        vec![
            code_email(PORTAL_SENDER, OTHER_OFFICE, "222222"),
            no_code_email(OFFICE),
        ],
    )
    .await;
    let err = mailbox
        .wait_code(&mark, OFFICE, PORTAL_SENDER, Duration::from_secs(2))
        .await
        .expect_err("only decoys arrived");
    let message = format!("{err:#}");
    eprintln!("{message}");
    assert_eq!(exit_code(&err), 4, "{message}");
    for part in [
        "no verification code for office.admin@zuub.com",
        "2 new messages arrived, 2 from the portal's sender",
        "to front.desk@smiles.example: a code, but not for office.admin@zuub.com",
        "to office.admin@zuub.com: no 6-digit code",
    ] {
        assert!(message.contains(part), "{part:?} not in:\n{message}");
    }
    assert!(!message.contains("222222"), "{message}");
}

#[tokio::test]
async fn dropping_a_waiting_mailbox_logs_out() {
    let dovecot = dovecot(true).await;
    let logged_out = || {
        std::fs::read_to_string(dovecot.log_file())
            .unwrap_or_default()
            .matches("Logged out")
            .count()
    };
    let mailbox = Mailbox::open(dovecot.mailbox(MAILBOX_USER));
    mailbox.ready().await.unwrap();
    let mark = mailbox.mark().await.unwrap();
    let before = logged_out();
    {
        // Abandon a wait in the middle of IDLE, then drop the mailbox.
        let wait = mailbox.wait_code(&mark, OFFICE, PORTAL_SENDER, Duration::from_secs(600));
        let _ = tokio::time::timeout(Duration::from_millis(300), wait).await;
    }
    let dropped = Instant::now();
    drop(mailbox);
    let deadline = dropped + Duration::from_secs(10);
    while logged_out() <= before {
        assert!(
            Instant::now() < deadline,
            "the mailbox session did not log out after the drop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("logged out {:?} after the drop", dropped.elapsed());
}

#[tokio::test]
async fn dovecot_stops_and_cleans_up_on_drop() {
    let dovecot = dovecot(true).await;
    let port = dovecot.imaps_port();
    let dir = dovecot.log_file().parent().unwrap().to_path_buf();
    assert!(dir.is_dir());
    let stopped = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        drop(dovecot);
        started.elapsed()
    })
    .await
    .unwrap();
    eprintln!("Dovecot stopped in {stopped:?}");
    assert!(!dir.exists(), "{} is left behind", dir.display());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} still accepts connections"
    );
}

/// A portal email whose only part is HTML, base64-encoded, with the code split across elements.
fn base64_html_email(to: &str, code: &str) -> Vec<u8> {
    use base64::Engine as _;
    let (head, tail) = code.split_at(2);
    let html = format!(
        "<html><body><p>Your code:</p><div><b>{head}</b><i>{}</i><span>{}</span></div>\
         <p>Reference 20260125</p></body></html>",
        &tail[..2],
        &tail[2..]
    );
    let body = base64::engine::general_purpose::STANDARD.encode(html);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: Cigna for HCP <{PORTAL_SENDER}>\r\nTo: {to}\r\nSubject: {}\r\nDate: {}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        PORTAL_SUBJECT,
        crate::support::dovecot::rfc2822_now(),
        lines.join("\r\n")
    )
    .into_bytes()
}

/// Every shape of the right email, each among the wrong ones: an older code for the same
/// address (before the mark), a code sent more than 24 hours ago, another address's code
/// arriving later. The right code each time.
#[tokio::test]
async fn the_right_code_whatever_the_email_looks_like() {
    let dovecot = dovecot(true).await;
    let config = dovecot.mailbox(MAILBOX_USER);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("261904", base64_html_email(OFFICE, "261904")),
        ("618302", recorded_email("latin1.eml", None)),
        ("096384", recorded_email("html-split.eml", None)),
        ("730145", recorded_email("base64.eml", None)),
    ];
    for (want, email) in cases {
        deliver(&config, vec![code_email(PORTAL_SENDER, OFFICE, "111111")]).await;
        let (mailbox, mark) = open_marked(&config).await;
        deliver(
            &config,
            vec![
                // Sent two days ago, delivered only now: its code has expired.
                recorded_email(
                    "quoted-printable.eml",
                    Some("Mon, 23 Nov 2026 09:00:00 +0000"),
                ),
                email,
                code_email(PORTAL_SENDER, OTHER_OFFICE, "222222"),
            ],
        )
        .await;
        let found = mailbox
            .wait_code(&mark, OFFICE, PORTAL_SENDER, Duration::from_secs(20))
            .await
            .unwrap_or_else(|e| panic!("{want}: {e:#}"));
        assert_eq!(found.code, want);
    }
}

/// A code sent more than 24 hours ago is never taken, even when it arrives now.
#[tokio::test]
async fn an_expired_code_is_never_used() {
    let dovecot = dovecot(true).await;
    let config = dovecot.mailbox(MAILBOX_USER);
    let (mailbox, mark) = open_marked(&config).await;
    deliver(
        &config,
        vec![recorded_email(
            "quoted-printable.eml",
            Some("Mon, 23 Nov 2026 09:00:00 +0000"),
        )],
    )
    .await;
    let err = mailbox
        .wait_code(&mark, OFFICE, PORTAL_SENDER, Duration::from_secs(2))
        .await
        .expect_err("the only code has expired");
    assert_eq!(exit_code(&err), 4);
    let message = format!("{err:#}");
    assert!(message.contains("sent more than 24 hours ago"), "{message}");
    assert!(!message.contains("482913"), "{message}");
}

/// A code entered once is never returned again, and nothing older than it is either: only a
/// newer email counts.
#[tokio::test]
async fn a_used_code_is_never_returned_again() {
    let dovecot = dovecot(true).await;
    let config = dovecot.mailbox(MAILBOX_USER);
    let (mailbox, mark) = open_marked(&config).await;
    deliver(
        &config,
        vec![
            code_email(PORTAL_SENDER, OFFICE, "100001"),
            code_email(PORTAL_SENDER, OFFICE, "200002"),
        ],
    )
    .await;
    let first = mailbox
        .wait_code(&mark, OFFICE, PORTAL_SENDER, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(first.code, "200002");
    let used = [first];
    let err = mailbox
        .wait_newer_code(&mark, OFFICE, PORTAL_SENDER, Duration::from_secs(2), &used)
        .await
        .expect_err("no newer email yet; the older 100001 does not count");
    assert_eq!(exit_code(&err), 4, "{err:#}");
    let (found, _) = tokio::join!(
        mailbox.wait_newer_code(&mark, OFFICE, PORTAL_SENDER, Duration::from_secs(20), &used),
        deliver(&config, vec![code_email(PORTAL_SENDER, OFFICE, "300003")])
    );
    assert_eq!(found.unwrap().code, "300003");
}

/// An office whose mail rules file the portal's email into a "Cigna" folder: with both
/// folders watched, the code is found there while INBOX gets the decoys.
#[tokio::test]
async fn watches_several_folders() {
    logs();
    let dovecot = tokio::task::spawn_blocking(|| {
        Dovecot::start(DovecotOptions {
            users: vec![(MAILBOX_USER.into(), MAILBOX_PASSWORD.into())],
            folders: vec!["Cigna".into()],
            ..DovecotOptions::default()
        })
        .unwrap()
    })
    .await
    .unwrap();
    let inbox = dovecot.mailbox(MAILBOX_USER);
    let mut cigna = inbox.clone();
    cigna.url.mailbox = "Cigna".into();
    let mut watching = inbox.clone();
    watching.folders = vec!["INBOX".into(), "Cigna".into()];
    let mailbox = Mailbox::open(watching);
    mailbox.ready().await.unwrap();
    let mark = mailbox.mark().await.unwrap();
    assert_eq!(mark.folders.len(), 2);
    let (found, _, _) = tokio::join!(
        mailbox.wait_code(&mark, OFFICE, PORTAL_SENDER, Duration::from_secs(20)),
        deliver(
            &inbox,
            vec![code_email(PORTAL_SENDER, OTHER_OFFICE, "222222")]
        ),
        deliver(&cigna, vec![code_email(PORTAL_SENDER, OFFICE, "640172")]),
    );
    let found = found.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        (found.code.as_str(), found.folder.as_str()),
        ("640172", "Cigna")
    );

    // Watching a folder that does not exist is an environment error naming it.
    let mut missing = dovecot.mailbox(MAILBOX_USER);
    missing.folders = vec!["INBOX".into(), "Nope".into()];
    let err = Mailbox::open(missing)
        .ready()
        .await
        .expect_err("no such folder");
    assert_eq!(exit_code(&err), 5);
    assert!(format!("{err:#}").contains("`Nope`"), "{err:#}");
}

/// The mail server restarts while the code is awaited: the session reconnects (with backoff,
/// within the code timeout) and the code still arrives.
#[tokio::test]
async fn a_server_restart_mid_wait_is_survived() {
    let mut dovecot = dovecot(true).await;
    let config = dovecot.mailbox(MAILBOX_USER);
    let (mailbox, mark) = open_marked(&config).await;
    let log = dovecot.log_file();
    let logins = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches(&format!("Login: user=<{MAILBOX_USER}>"))
            .count()
    };
    let before = logins();
    // The wait's request is sent when join! first polls it; the restart cuts its connection.
    let (found, _restarted) = tokio::join!(
        mailbox.wait_code(&mark, OFFICE, PORTAL_SENDER, Duration::from_secs(60)),
        async {
            let restarted = tokio::task::spawn_blocking(move || {
                let started = Instant::now();
                dovecot.restart().expect("Dovecot restarts");
                eprintln!("Dovecot restarted in {:?}", started.elapsed());
                dovecot
            })
            .await
            .unwrap();
            deliver(&config, vec![code_email(PORTAL_SENDER, OFFICE, "583920")]).await;
            restarted
        }
    );
    let found = found.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(found.code, "583920");
    // The delivery's login, and the waiting session's own: it was cut and came back.
    assert!(
        logins() >= before + 2,
        "the waiting session never logged in again"
    );
}

/// AUTHENTICATE PLAIN instead of LOGIN.
#[tokio::test]
async fn authenticate_plain_logs_in() {
    let dovecot = dovecot(true).await;
    let mut config = dovecot.mailbox(MAILBOX_USER);
    config.auth = ImapAuth::Plain;
    let code = deliver_and_wait(
        config.clone(),
        &config,
        vec![code_email(PORTAL_SENDER, OFFICE, "907113")],
    )
    .await;
    assert_eq!(code, "907113");
    config.password = Secret::new("not-the-password");
    let err = Mailbox::open(config)
        .ready()
        .await
        .expect_err("wrong password");
    assert_eq!(exit_code(&err), 5);
    let message = format!("{err:#}");
    assert!(message.contains("refused the login"), "{message}");
    assert!(!message.contains("not-the-password"), "{message}");
}
