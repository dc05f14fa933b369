//! The fixture portal over raw HTTP (no browser): the contract's texts, the flow order, the
//! portal's rules, `/__state`, and the code emails in a real Dovecot.

use std::time::Duration;

use cigna_setup::fixture::{PortalConfig, RunningPortal, WRONG_CODE};
use cigna_setup::mail::Mailbox;
use cigna_setup::secrets::Secret;
use serde_json::json;

use crate::support::dovecot::{start, MAILBOX_USER};
use crate::support::portal::{http_get, http_post_form, Client, HttpResponse};

const OFFICE_PASSWORD: &str = "Office#Pass-2026";
const EMAIL: &str = "codes+insurance.admin@zuub.com";
const USER_ID: &str = "zuub.insurance1";
const PASSWORD: &str = "Zuub#Secure2026";

fn config() -> PortalConfig {
    PortalConfig {
        office_tins: vec!["123456789".into(), "98-7654321".into()],
        ..PortalConfig::new(Secret::new(OFFICE_PASSWORD))
    }
}

async fn portal() -> RunningPortal {
    RunningPortal::start(config())
        .await
        .unwrap_or_else(|e| panic!("portal did not start: {e:#}"))
}

#[track_caller]
fn assert_redirect(r: &HttpResponse, to: &str) {
    assert_eq!(r.status, 303, "expected a redirect to {to}: {}", r.body);
    assert_eq!(r.location(), to);
}

#[track_caller]
fn assert_page(r: &HttpResponse, heading: &str) {
    assert_eq!(r.status, 200, "expected the page {heading:?}, got {r:?}");
    assert!(
        r.body.contains(&format!("<h1>{heading}</h1>")),
        "expected the heading {heading:?} in:\n{}",
        r.body
    );
}

/// The value shown after a label on "User Added" (`<span>Label</span> <x>value</x>`).
fn value_after(html: &str, label: &str) -> String {
    let at = html
        .find(&format!(">{label}</span>"))
        .unwrap_or_else(|| panic!("no {label:?} in {html}"));
    let rest = &html[at..];
    let start = rest.find("credential-value\">").expect("a value element") + 18;
    let end = rest[start..].find('<').expect("value ends");
    rest[start..start + end].replace("&amp;", "&")
}

async fn office_login(c: &mut Client) {
    assert_page(&c.get("/").await, "Log in to Cigna for HCP");
    let r = c
        .post(
            "/login",
            &[("userId", "office.manager"), ("password", OFFICE_PASSWORD)],
        )
        .await;
    assert_redirect(&r, "/home");
}

/// Add New User → Assign access → Select Entitlements → Review → Submit; the temporary
/// credentials from "User Added".
async fn add_user(c: &mut Client, email: &str) -> (String, String) {
    assert_page(&c.get("/access/users/new").await, "Add New User");
    let r = c
        .post(
            "/access/users/new",
            &[
                ("firstName", "Insurance"),
                ("lastName", "Admin"),
                ("jobRole", "Administration support"),
                ("phone", "(555) 123-4567"),
                ("email", email),
            ],
        )
        .await;
    assert_redirect(&r, "/access/users/new/access");
    let r = c
        .post(
            "/access/users/new/access",
            &[("access", "individual"), ("tin", "987654321")],
        )
        .await;
    assert_redirect(&r, "/access/users/new/entitlements");
    let r = c
        .post(
            "/access/users/new/entitlements",
            &[
                ("entitlement", "Claim Status"),
                ("entitlement", "Patient Eligibility & Benefits"),
            ],
        )
        .await;
    assert_redirect(&r, "/access/users/new/review");
    assert_page(&c.get("/access/users/new/review").await, "Review New User");
    let r = c.post("/access/users/new/review", &[]).await;
    assert_redirect(&r, "/access/users/new/added");
    let added = c.get("/access/users/new/added").await;
    assert_page(&added, "User Added");
    (
        value_after(&added.body, "Temporary User ID"),
        value_after(&added.body, "Temporary Password"),
    )
}

fn profile<'a>(user_id: &'a str, password: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("firstName", "Insurance"),
        ("lastName", "Admin"),
        ("jobRole", "Administration Support"),
        ("dateOfBirth", "01/01/1980"),
        ("address", "123 Zuub Street, Zuub, CA, 60515"),
        ("officePhone", "(555) 123-4567"),
        ("extension", ""),
        ("mobilePhone", ""),
        ("email", email),
        ("userId", user_id),
        ("password", password),
        ("confirmPassword", password),
        ("securityQuestion1", "What was the name of your first pet?"),
        ("answer1", "Rex"),
        ("securityQuestion2", "In what city were you born?"),
        ("answer2", "Zuub"),
        ("securityQuestion3", "What is your favorite food?"),
        ("answer3", "Tacos"),
    ]
}

/// Temporary ID → Create Your Profile → Terms of Use → Review → Registration Complete.
async fn register(c: &mut Client, temp_id: &str, temp_password: &str, email: &str) {
    assert_redirect(&c.get("/logout").await, "/");
    assert_page(
        &c.get("/register/temporary-id").await,
        "Register with a Temporary ID",
    );
    let r = c
        .post(
            "/register/temporary-id",
            &[("tempUserId", temp_id), ("tempPassword", temp_password)],
        )
        .await;
    assert_redirect(&r, "/register/profile");
    let r = c
        .post("/register/profile", &profile(USER_ID, PASSWORD, email))
        .await;
    assert_redirect(&r, "/register/terms");
    let r = c.post("/register/terms", &[("agree", "yes")]).await;
    assert_redirect(&r, "/register/review");
    assert_page(&c.get("/register/review").await, "Review Your Information");
    assert_redirect(&c.post("/register/review", &[]).await, "/register/complete");
    assert_page(&c.get("/register/complete").await, "Registration Complete");
}

/// Signs in with the new User ID and lands on "Verify Your Identity".
async fn sign_in(c: &mut Client) {
    assert_page(&c.get("/").await, "Log in to Cigna for HCP");
    let r = c
        .post("/login", &[("userId", USER_ID), ("password", PASSWORD)])
        .await;
    assert_redirect(&r, "/verify");
    let r = c.get("/verify").await;
    assert_page(&r, "Verify Your Identity");
    assert!(r.body.contains("Send Verification Code"));
}

fn last_code(portal: &RunningPortal) -> String {
    portal.state_json()["users"][0]["last_code"]
        .as_str()
        .expect("a code was sent")
        .to_string()
}

#[tokio::test]
async fn login_page_shows_the_contract_texts() {
    let portal = portal().await;
    let (status, headers, body) = http_get(portal.url()).await;
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "set-cookie" && v.starts_with("hcp_session=")),
        "a session cookie: {headers:?}"
    );
    for text in [
        "<h1>Log in to Cigna for HCP</h1>",
        ">User ID</label>",
        ">Password</label>",
        ">Log In</button>",
        ">Register</a>",
        ">Use a temporary ID to register</a>",
        ">Accept All Cookies</button>",
    ] {
        assert!(body.contains(text), "{text:?} missing from the login page");
    }
    // The form comes late (a script inserts it) and "Log In" has a hidden mobile twin.
    assert!(body.contains("<template data-late>"));
    assert_eq!(body.matches(">Log In</button>").count(), 2);

    // Once cookies are accepted, the banner is gone.
    let mut c = Client::new(portal.url());
    c.set_cookie("cookie_consent", "accepted");
    let r = c.get("/").await;
    assert!(!r.body.contains("Accept All Cookies"));
    portal.stop().await.unwrap();
}

#[tokio::test]
async fn later_pages_without_a_session_go_to_the_login_page() {
    let portal = portal().await;
    let base = portal.url().trim_end_matches('/').to_string();
    for path in [
        "/home",
        "/access/users",
        "/access/users/new",
        "/access/users/new/access",
        "/access/users/new/review",
        "/access/users/new/added",
        "/register/temporary-id",
        "/register/profile",
        "/register/terms",
        "/verify",
        "/agreement",
        "/complete",
    ] {
        let (status, headers, _) = http_get(&format!("{base}{path}")).await;
        assert_eq!(status, 303, "{path}");
        assert!(headers.contains(&("location".into(), "/".into())), "{path}");
    }
    let (status, _, _) = http_post_form(
        &format!("{base}/access/users/new"),
        &[("firstName", "x")],
        None,
    )
    .await;
    assert_eq!(status, 303);

    // A session that skipped steps fares no better.
    let mut c = Client::new(portal.url());
    c.get("/").await;
    for path in [
        "/home",
        "/access/users/new/entitlements",
        "/register/profile",
        "/agreement",
    ] {
        assert_redirect(&c.get(path).await, "/");
    }
    office_login(&mut c).await;
    assert_redirect(&c.get("/access/users/new/review").await, "/");
    assert_redirect(&c.get("/verify").await, "/");
    portal.stop().await.unwrap();
}

#[tokio::test]
async fn bad_office_password_shows_an_error_next_to_the_field() {
    let portal = portal().await;
    let mut c = Client::new(portal.url());
    c.get("/").await;
    let r = c
        .post(
            "/login",
            &[("userId", "office.manager"), ("password", "wrong-password")],
        )
        .await;
    assert_page(&r, "Log in to Cigna for HCP");
    assert!(r.body.contains(
        "<p class=\"field-error\">The User ID or password you entered is incorrect.</p>"
    ));
    assert!(r.body.contains("value=\"office.manager\""), "User ID kept");
    assert!(!r.body.contains("wrong-password"), "password not echoed");
    let r = c.post("/login", &[("userId", ""), ("password", "")]).await;
    assert!(r.body.contains("Enter your User ID."));
    assert!(r.body.contains("Enter your password."));
    assert_redirect(
        &c.post(
            "/login",
            &[("userId", "Office.Manager"), ("password", OFFICE_PASSWORD)],
        )
        .await,
        "/home",
    );
    let home = c.get("/home").await;
    assert_page(&home, "Welcome back");
    for text in [
        ">Working with Cigna</button>",
        ">Manage User Access</button>",
        ">Add New User</a>",
        ">Edit User Access</a>",
        ">Remove User</a>",
        ">Log Out</a>",
    ] {
        assert!(home.body.contains(text), "{text:?} missing from home");
    }
    portal.stop().await.unwrap();
}

#[tokio::test]
async fn state_starts_empty_in_the_documented_shape() {
    let portal = portal().await;
    let (status, headers, body) = http_get(&format!("{}__state", portal.url())).await;
    assert_eq!(status, 200);
    assert!(headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("application/json")));
    let state: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        state,
        json!({"users": [], "registrations": [], "codes_sent": 0, "duplicate_creations": 0})
    );
    assert_eq!(portal.state_json(), state);
    portal.stop().await.unwrap();
}

#[tokio::test]
async fn the_existing_account_flow_over_http() {
    let portal = portal().await;
    let mut c = Client::new(portal.url());
    office_login(&mut c).await;

    // The portal's rules on Add New User, errors next to the fields, values kept.
    let r = c
        .post(
            "/access/users/new",
            &[
                ("firstName", "Insurance"),
                ("lastName", ""),
                ("jobRole", ""),
                ("phone", "555-1234"),
                ("email", "not-an-email"),
            ],
        )
        .await;
    assert_page(&r, "Add New User");
    for msg in [
        "Enter a last name.",
        "Select a job role.",
        "Enter a 10-digit phone number",
        "Enter a valid email address",
    ] {
        assert!(r.body.contains(msg), "{msg:?}");
    }
    assert!(r.body.contains("value=\"Insurance\""));

    // Assign access: all TINs by default, the first TIN pre-ticked, both TINs listed.
    let r = c
        .post(
            "/access/users/new",
            &[
                ("firstName", "Insurance"),
                ("lastName", "Admin"),
                ("jobRole", "Administration support"),
                ("phone", "5551234567"),
                ("email", EMAIL),
            ],
        )
        .await;
    assert_redirect(&r, "/access/users/new/access");
    let r = c.get("/access/users/new/access").await;
    assert_page(&r, "Assign access");
    assert!(r.body.contains("value=\"all\" checked"));
    assert!(r.body.contains("value=\"123456789\" checked"));
    assert!(r.body.contains("value=\"987654321\">"));
    assert!(r
        .body
        .contains("<span class=\"tin\">98-7654321</span> Zuub Family Dental"));
    let r = c
        .post("/access/users/new/access", &[("access", "individual")])
        .await;
    assert!(r.body.contains("Select at least one TIN."));
    c.post(
        "/access/users/new/access",
        &[("access", "individual"), ("tin", "98-7654321")],
    )
    .await;
    let r = c.get("/access/users/new/entitlements").await;
    assert_page(&r, "Select Entitlements");
    assert_eq!(r.body.matches(" checked>").count(), 1, "only Claim Status");
    assert!(r.body.contains("value=\"Claim Status\" checked>"));
    assert!(c
        .post("/access/users/new/entitlements", &[])
        .await
        .body
        .contains("Select at least one entitlement."));
    let (temp_id, temp_password) = add_user(&mut c, EMAIL).await;
    // Shown once.
    assert_redirect(&c.get("/access/users/new/added").await, "/home");
    let users = c.get("/access/users").await;
    assert_page(&users, "Edit User Access");
    assert!(users.body.contains(EMAIL) && users.body.contains("Pending registration"));
    let state = portal.state_json();
    assert_eq!(state["users"][0]["tins"], json!(["987654321"]));
    assert_eq!(
        state["users"][0]["entitlements"],
        json!(["Patient Eligibility & Benefits", "Claim Status"])
    );
    assert_eq!(state["users"][0]["status"], "pending_registration");
    assert_eq!(state["users"][0]["user_id"], temp_id.as_str());

    // Adding the same email again is refused and counted.
    c.get("/access/users/new").await;
    let r = c
        .post(
            "/access/users/new",
            &[
                ("firstName", "Insurance"),
                ("lastName", "Admin"),
                ("jobRole", "Administration support"),
                ("phone", "5551234567"),
                ("email", &EMAIL.to_uppercase()),
            ],
        )
        .await;
    assert!(r
        .body
        .contains("A user with this email address already exists."));
    assert_eq!(portal.state_json()["duplicate_creations"], 1);

    // Create Your Profile enforces the rules.
    assert_redirect(&c.get("/logout").await, "/");
    let r = c
        .post(
            "/register/temporary-id",
            &[("tempUserId", &temp_id), ("tempPassword", "nope")],
        )
        .await;
    assert!(r
        .body
        .contains("The temporary User ID or password is incorrect."));
    assert_redirect(
        &c.post(
            "/register/temporary-id",
            &[("tempUserId", &temp_id), ("tempPassword", &temp_password)],
        )
        .await,
        "/register/profile",
    );
    let mut bad = profile("1bad", "Zuub1bad#x", "x@y");
    for (k, v) in bad.iter_mut() {
        match *k {
            "dateOfBirth" => *v = "01/01/2020",
            "officePhone" => *v = "555",
            "confirmPassword" => *v = "other",
            "securityQuestion2" => *v = "What was the name of your first pet?",
            "answer3" => *v = "",
            _ => {}
        }
    }
    let r = c.post("/register/profile", &bad).await;
    assert_page(&r, "Create Your Profile");
    for msg in [
        "You must be 18 or older",
        "Enter a 10-digit phone number",
        "Enter a valid email address",
        "User ID must be 6–20 characters",
        "The passwords don&#39;t match.",
        "Choose a different question for each security question.",
        "Enter an answer.",
    ] {
        assert!(r.body.contains(msg), "{msg:?} missing");
    }
    assert!(
        !r.body.contains("Zuub1bad#x"),
        "passwords are not re-rendered"
    );
    let r = c
        .post(
            "/register/profile",
            &profile(USER_ID, "Zuub.Insurance1#", EMAIL),
        )
        .await;
    assert!(r.body.contains("Password must not contain your User ID."));
    let r = c
        .post(
            "/register/profile",
            &profile("office.manager", PASSWORD, EMAIL),
        )
        .await;
    assert!(r.body.contains("That User ID is taken."));
    assert_redirect(&c.get("/register/review").await, "/");
    assert_redirect(&c.get("/logout").await, "/");
    register(&mut c, &temp_id, &temp_password, EMAIL).await;
    // The temporary ID registers once.
    let r = c
        .post(
            "/register/temporary-id",
            &[("tempUserId", &temp_id), ("tempPassword", &temp_password)],
        )
        .await;
    assert!(r.body.contains("already used to register"));
    assert!(c.get("/").await.status == 200);
    let state = portal.state_json();
    assert_eq!(state["users"][0]["user_id"], USER_ID);
    assert_eq!(state["users"][0]["profile_created"], true);
    assert_eq!(state["users"][0]["status"], "pending_registration");

    // First sign-in: the code, a wrong one, a resend (only the latest is valid), the agreement.
    sign_in(&mut c).await;
    assert_redirect(&c.post("/verify/send", &[]).await, "/verify");
    let r = c.get("/verify").await;
    assert!(
        r.body.contains(">Verification Code</label>") && r.body.contains(">Resend code</button>")
    );
    let first = last_code(&portal);
    assert_eq!(portal.state_json()["codes_sent"], 1);
    let wrong = if first == "111111" {
        "222222"
    } else {
        "111111"
    };
    let r = c.post("/verify", &[("verificationCode", wrong)]).await;
    assert_page(&r, "Verify Your Identity");
    assert!(r.body.contains(WRONG_CODE));
    c.post("/verify/send", &[]).await;
    let second = last_code(&portal);
    assert_ne!(first, second);
    assert_eq!(portal.state_json()["codes_sent"], 2);
    assert!(c
        .post("/verify", &[("verificationCode", &first)])
        .await
        .body
        .contains(WRONG_CODE));
    assert_redirect(&c.get("/agreement").await, "/");
    assert_redirect(
        &c.post("/verify", &[("verificationCode", &second)]).await,
        "/agreement",
    );
    let r = c.get("/agreement").await;
    assert_page(&r, "Terms and Conditions");
    assert!(r
        .body
        .contains("I have read and agree to the Website Access Manager User Agreement"));
    assert!(c
        .post("/agreement", &[])
        .await
        .body
        .contains("Select the checkbox"));
    assert_redirect(
        &c.post("/agreement", &[("agree", "yes")]).await,
        "/complete",
    );
    assert_page(&c.get("/complete").await, "Account creation is complete");

    let state = portal.state_json();
    assert_eq!(state["users"][0]["status"], "active");
    assert_eq!(state["users"][0]["email"], EMAIL);
    assert_eq!(state["codes_sent"], 2);
    assert_eq!(state["duplicate_creations"], 1);
    portal.stop().await.unwrap();
}

#[tokio::test]
async fn code_emails_reach_the_mailbox_among_decoys() {
    let dovecot = tokio::task::spawn_blocking(|| start(true)).await.unwrap();
    let mailbox_config = dovecot.mailbox(MAILBOX_USER);
    let portal = RunningPortal::start(PortalConfig {
        mailbox: Some(mailbox_config.clone()),
        late_render_max_ms: cigna_setup::fixture::DEFAULT_LATE_RENDER_MAX_MS,
        ..config()
    })
    .await
    .unwrap();
    let mailbox = Mailbox::open(mailbox_config);
    mailbox.ready().await.unwrap();

    // Creating the user sends a day-old code to the same address.
    let before_creation = mailbox.mark().await.unwrap();
    let mut c = Client::new(portal.url());
    office_login(&mut c).await;
    let (temp_id, temp_password) = add_user(&mut c, EMAIL).await;
    portal.emails_delivered().await;
    let older = mailbox
        .wait_code(&before_creation, EMAIL, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("the older-code email: {e:#}"));
    register(&mut c, &temp_id, &temp_password, EMAIL).await;
    sign_in(&mut c).await;

    // Each send: another office's code first, then ours; quoted-printable, then base64.
    for round in 0..2 {
        let mark = mailbox.mark().await.unwrap();
        assert_redirect(&c.post("/verify/send", &[]).await, "/verify");
        let found = mailbox
            .wait_code(&mark, EMAIL, Duration::from_secs(20))
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e:#}"));
        assert_eq!(found.code, last_code(&portal), "round {round}");
        assert_ne!(found.code, older.code);
        assert_eq!(found.uid, mark.uid_next + 1, "the decoy landed first");
    }
    portal.stop().await.unwrap();
    drop(dovecot);
}
