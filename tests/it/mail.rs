//! The mailbox against a real Dovecot: marks, IDLE and polling waits, decoys, STARTTLS, and the
//! errors (and exit codes) a user sees when the mailbox misbehaves.

use std::time::{Duration, Instant};

use cigna_setup::dovecot::Dovecot;
use cigna_setup::error::exit_code;
use cigna_setup::mail::{append, Mailbox, MailboxConfig, MailboxUrl, PORTAL_SENDER};
use cigna_setup::secrets::Secret;

use crate::support::dovecot::{code_email, start, MAILBOX_PASSWORD, MAILBOX_USER};

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
        cigna_setup::mail::PORTAL_SUBJECT
    )
    .into_bytes()
}

/// Opens, waits for ready, marks; then delivers `messages` while waiting for OFFICE's code.
async fn deliver_and_wait(
    config: MailboxConfig,
    deliverer: &MailboxConfig,
    messages: Vec<Vec<u8>>,
) -> String {
    let mailbox = Mailbox::open(config);
    mailbox.ready().await.unwrap();
    let mark = mailbox.mark().await.unwrap();
    let (found, delivered) = tokio::join!(
        async {
            let found = mailbox
                .wait_code(&mark, "Office.Admin@ZUUB.com", Duration::from_secs(30))
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
    assert_eq!(found.subject, cigna_setup::mail::PORTAL_SUBJECT);
    found.code
}

#[tokio::test]
async fn finds_the_code_for_the_right_recipient_among_decoys() {
    let dovecot = dovecot(true).await;
    let config = dovecot.mailbox(MAILBOX_USER);
    // An older code for the same address, delivered before the mark.
    deliver(&config, vec![code_email(PORTAL_SENDER, OFFICE, "111111")]).await;

    let code = deliver_and_wait(
        config.clone(),
        &config,
        vec![
            code_email(PORTAL_SENDER, OTHER_OFFICE, "222222"),
            code_email("phish@cigna-hcp.example", OFFICE, "333333"),
            no_code_email(OFFICE),
            code_email(PORTAL_SENDER, OFFICE, "482913"),
        ],
    )
    .await;
    assert_eq!(code, "482913");
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
    let config = MailboxConfig {
        url: format!("imaps://{MAILBOX_USER}@127.0.0.1:{port}/INBOX")
            .parse()
            .unwrap(),
        password: Secret::new(MAILBOX_PASSWORD),
        ca_file: None,
        connect_timeout: Duration::from_secs(2),
    };
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
    let mailbox = Mailbox::open(config.clone());
    mailbox.ready().await.unwrap();
    let mark = mailbox.mark().await.unwrap();
    deliver(
        &config,
        vec![
            code_email(PORTAL_SENDER, OTHER_OFFICE, "222222"),
            no_code_email(OFFICE),
        ],
    )
    .await;
    let err = mailbox
        .wait_code(&mark, OFFICE, Duration::from_secs(2))
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
        let wait = mailbox.wait_code(&mark, OFFICE, Duration::from_secs(600));
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
