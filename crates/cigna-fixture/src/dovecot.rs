//! A throwaway local Dovecot (demo and tests): its own config, users, TLS certificates and
//! mail in a temp dir, listening on free loopback ports; stopped and removed on drop. It tells
//! its users' mailboxes as plain data (URLs, ports, passwords, the CA file); turning those into a
//! mail client's settings is the client's business.

use std::fmt::Write as _;
use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::error::{bad_config, environment};
use crate::secret::Secret;

const DOVECOT_BIN: &str = "/usr/sbin/dovecot";
const IMAP_BIN: &str = "/usr/lib/dovecot/imap";
const DOVEADM_BIN: &str = "/usr/bin/doveadm";
const INSTALL_HINT: &str = "run `sudo apt-get install -y dovecot-imapd openssl`";
/// How long a fresh Dovecot gets to accept a LOGIN + SELECT.
const READY_DEADLINE: Duration = Duration::from_secs(10);
/// How long a stop waits for the master process to exit before killing it.
const STOP_DEADLINE: Duration = Duration::from_secs(3);
/// Readiness is checked as this user, so the real users' mailboxes stay untouched.
const PROBE_USER: &str = "cigna-setup-probe";
/// How long the readiness probe waits for a TCP connection.
const PROBE_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the readiness probe waits for one reply of the server.
const PROBE_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// What the throwaway Dovecot serves.
#[derive(Debug, Clone)]
pub struct DovecotOptions {
    /// (user, password) pairs; users are usually email addresses.
    pub users: Vec<(String, String)>,
    /// `false` leaves IDLE out of the capabilities, to exercise polling.
    pub idle: bool,
    /// Folders every user has besides INBOX (like an office's "Cigna" folder).
    pub folders: Vec<String>,
    /// Users who sign in with an OAuth2 access token only, as on Microsoft 365.
    pub oauth2: Option<OAuth2Options>,
}

impl Default for DovecotOptions {
    fn default() -> Self {
        DovecotOptions {
            users: Vec::new(),
            idle: true,
            folders: Vec::new(),
            oauth2: None,
        }
    }
}

/// Dovecot's `oauth2` passdb: XOAUTH2 and OAUTHBEARER logins whose tokens Dovecot checks with
/// an RFC 7662 introspection endpoint (POST `token=…`, answered `{"active": true,
/// "username": …}`). Its users have no password: LOGIN and PLAIN are refused for them.
#[derive(Debug, Clone)]
pub struct OAuth2Options {
    /// The introspection endpoint, e.g. `http://127.0.0.1:PORT/introspect`.
    pub introspection_url: String,
    /// The users who sign in with a token.
    pub token_users: Vec<String>,
    /// A password user (user, password) who may log in as any token user (`USER*MASTER`), as
    /// a mail system's delivery does: how mail gets into a token user's mailbox.
    pub master: (String, String),
}

/// A running throwaway Dovecot. Dropping it stops the daemon and deletes its directory.
pub struct Dovecot {
    dir: tempfile::TempDir,
    oauth2: Option<OAuth2Options>,
    imaps_port: u16,
    imap_port: u16,
    ca_file: PathBuf,
    users: Vec<(String, Secret)>,
    master_pid: Option<u32>,
    config_path: PathBuf,
}

/// Cuts a user's sessions off, as a server does to a session whose token was revoked.
#[derive(Debug, Clone)]
pub struct Kicker {
    config_path: PathBuf,
}

impl Kicker {
    /// Every IMAP session of `user` ends now (`doveadm kick`).
    pub fn kick(&self, user: &str) -> anyhow::Result<()> {
        let mut command = Command::new(DOVEADM_BIN);
        command
            .arg("-c")
            .arg(&self.config_path)
            .arg("kick")
            .arg(user);
        run_tool(command, &format!("doveadm kick {user}"))
    }
}

/// Runs one of the tools the instance needs (openssl, doveadm) to its end; a failure says what
/// it printed.
fn run_tool(mut command: Command, what: &str) -> anyhow::Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| environment(format!("cannot run {what}: {e}; {INSTALL_HINT}")))?;
    if !output.status.success() {
        return Err(environment(format!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

/// The accounts the processes run as.
struct Accounts {
    login_user: String,
    internal_user: String,
    internal_group: String,
    /// The uid/gid mail files are owned by.
    mail_uid: u32,
    mail_gid: u32,
    /// The uid the auth process reads the passwd-file as.
    auth_uid: u32,
    root: bool,
}

impl Dovecot {
    pub fn start(options: DovecotOptions) -> anyhow::Result<Dovecot> {
        let started = Instant::now();
        check_installed()?;
        let master = options.oauth2.as_ref().map(|o| o.master.clone());
        let token_users = options
            .oauth2
            .as_ref()
            .map(|o| o.token_users.clone())
            .unwrap_or_default();
        for (user, password) in options.users.iter().chain(&master) {
            if user.is_empty()
                || user.contains([':', '/', '\n', '\r', ' '])
                || password.contains([':', '\n', '\r'])
            {
                return Err(bad_config(format!(
                    "the Dovecot user `{user}` or its password has a character a passwd-file cannot \
                     hold (':', '/', space or a line break)"
                )));
            }
        }

        let dir = tempfile::Builder::new()
            .prefix("cigna-dovecot-")
            .tempdir()
            .context("cannot create a temp dir for Dovecot")?;
        // Dovecot's unprivileged processes must traverse it (tempdir makes 0700).
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
        let accounts = accounts(dir.path())?;
        let ca_file = make_certificates(&dir.path().join("tls"))?;

        let mut users: Vec<(String, Secret)> = options
            .users
            .iter()
            .map(|(u, p)| (u.clone(), Secret::new(p.clone())))
            .collect();
        let probe_password = format!("probe-{:016x}", rand::random::<u64>());
        users.push((PROBE_USER.to_string(), Secret::new(probe_password)));
        write_users(dir.path(), &users, &token_users, &accounts)?;
        if let Some(oauth2) = &options.oauth2 {
            for user in &oauth2.token_users {
                if user.is_empty() || user.contains(['*', '/', '\n', '\r', ' ']) {
                    return Err(bad_config(format!(
                        "the Dovecot token user `{user}` has a character a user name cannot hold"
                    )));
                }
            }
            write_private(
                &dir.path().join("masters"),
                &format!("{}:{{PLAIN}}{}\n", oauth2.master.0, oauth2.master.1),
                &accounts,
            )?;
            // Dovecot's own settings file for the passdb; the endpoint is the test's.
            fs::write(
                dir.path().join("oauth2.conf"),
                format!(
                    "introspection_mode = post\n\
                     introspection_url = {}\n\
                     username_attribute = username\n\
                     active_attribute = active\n\
                     active_value = true\n\
                     force_introspection = yes\n",
                    oauth2.introspection_url
                ),
            )?;
        }

        let mut dovecot = Dovecot {
            oauth2: options.oauth2.clone(),
            dir,
            imaps_port: 0,
            imap_port: 0,
            ca_file,
            users,
            master_pid: None,
            config_path: PathBuf::new(),
        };
        // Free ports are found by binding port 0 and letting go; another process may grab one
        // before Dovecot binds it, so a failed bind is retried with new ports.
        let mut attempt = 0;
        loop {
            attempt += 1;
            [dovecot.imaps_port, dovecot.imap_port] = free_ports()?;
            let config = dovecot.config(&options, &accounts);
            let config_path = dovecot.dir.path().join("dovecot.conf");
            fs::write(&config_path, config).context("cannot write dovecot.conf")?;
            dovecot.config_path = config_path.clone();
            match dovecot.launch(&config_path) {
                Ok(()) => break,
                Err(e) if attempt < 3 && dovecot.log_tail().contains("Address already in use") => {
                    tracing::debug!("Dovecot could not bind its ports, retrying: {e:#}");
                }
                Err(e) => return Err(e),
            }
        }
        dovecot.wait_ready()?;
        tracing::debug!(
            imaps_port = dovecot.imaps_port,
            imap_port = dovecot.imap_port,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Dovecot ready"
        );
        Ok(dovecot)
    }

    /// Stops the daemon (clients see the connection drop) and starts it again on the same
    /// ports with the same mail: a mail server restarting under a waiting client.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        let config_path = self.config_path.clone();
        // The old master may still hold the ports for a moment after it exited.
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            match self.launch(&config_path) {
                Ok(()) => break,
                Err(e)
                    if Instant::now() < deadline
                        && self.log_tail().contains("Address already in use") =>
                {
                    tracing::debug!("Dovecot could not bind its ports yet: {e:#}");
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e),
            }
        }
        self.wait_ready()
    }

    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    pub fn imaps_port(&self) -> u16 {
        self.imaps_port
    }

    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    /// Dovecot's own log (logins, errors), for test failure messages.
    pub fn log_file(&self) -> PathBuf {
        self.dir.path().join("dovecot.log")
    }

    /// The host both ports listen on.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// `user`'s password.
    ///
    /// Panics when `user` was not among `DovecotOptions::users`: that is a bug in the caller.
    pub fn password(&self, user: &str) -> &str {
        self.users
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, p)| p.expose())
            .unwrap_or_else(|| panic!("the throwaway Dovecot has no user `{user}`"))
    }

    /// The password user who may log in as any token user, and its password (with
    /// `oauth2` only). Its login name for a token user's mailbox is `USER*MASTER`.
    pub fn master(&self) -> Option<(&str, &str)> {
        self.oauth2
            .as_ref()
            .map(|o| (o.master.0.as_str(), o.master.1.as_str()))
    }

    /// What cuts this instance's sessions off, for a closure that outlives a borrow of it.
    pub fn kicker(&self) -> Kicker {
        Kicker {
            config_path: self.config_path.clone(),
        }
    }

    /// `imaps://user@127.0.0.1:PORT/INBOX` (TLS from the first byte; trust `ca_file`)
    pub fn imaps_url(&self, user: &str) -> String {
        format!("imaps://{user}@{}:{}/INBOX", self.host(), self.imaps_port)
    }

    /// `imap://user@127.0.0.1:PORT/INBOX` (STARTTLS)
    pub fn imap_url(&self, user: &str) -> String {
        format!("imap://{user}@{}:{}/INBOX", self.host(), self.imap_port)
    }

    fn config(&self, options: &DovecotOptions, accounts: &Accounts) -> String {
        let dir = self.dir.path().display();
        let mut c = String::new();
        let _ = write!(
            c,
            r#"# Written by cigna-setup for a throwaway instance; deleted when it stops.
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = cigna-setup-{pid}-{unique:08x}
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
debug_log_path = {dir}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = yes
ssl_cert = <{dir}/tls/server.crt
ssl_key = <{dir}/tls/server.key
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
{folders}}}
first_valid_uid = 1
first_valid_gid = 1
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={dir}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service ipc {{
  chroot =
}}
service old-stats {{
  chroot =
}}
"#,
            pid = std::process::id(),
            unique = rand::random::<u32>(),
            login_user = accounts.login_user,
            internal_user = accounts.internal_user,
            internal_group = accounts.internal_group,
            mail_uid = accounts.mail_uid,
            mail_gid = accounts.mail_gid,
            imap_port = self.imap_port,
            imaps_port = self.imaps_port,
            folders = options
                .folders
                .iter()
                .map(|f| format!("  mailbox \"{f}\" {{\n    auto = create\n  }}\n"))
                .collect::<String>(),
        );
        if options.oauth2.is_some() {
            c = c.replace(
                "auth_mechanisms = plain login\n",
                "auth_mechanisms = plain login xoauth2 oauthbearer\n",
            );
            // A refused token is answered at once: the tests refuse some on purpose.
            let _ = write!(
                c,
                r#"auth_master_user_separator = *
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  master = yes
  args = scheme=PLAIN username_format=%u {dir}/masters
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {dir}/oauth2.conf
}}
"#
            );
        }
        if !options.idle {
            // Dovecot's default list without IDLE; clients must then poll.
            c.push_str(
                "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT \
                 SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND \
                 URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED \
                 I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH \
                 LIST-STATUS BINARY MOVE LITERAL+\n",
            );
        }
        c
    }

    fn launch(&mut self, config_path: &Path) -> anyhow::Result<()> {
        let startup_log = self.dir.path().join("startup.log");
        let stderr = fs::File::create(&startup_log)?;
        // The daemon inherits our stdio and would keep a pipe open forever: no pipes.
        let status = Command::new(DOVECOT_BIN)
            .arg("-c")
            .arg(config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .status()
            .map_err(|e| environment(format!("cannot run {DOVECOT_BIN}: {e}; {INSTALL_HINT}")))?;
        if !status.success() {
            return Err(environment(format!(
                "Dovecot did not start ({status}):\n{}",
                self.log_tail()
            )));
        }
        self.master_pid = fs::read_to_string(self.dir.path().join("run/master.pid"))
            .ok()
            .and_then(|p| p.trim().parse().ok());
        Ok(())
    }

    /// LOGIN + SELECT as the probe user succeeds: the greeting alone comes before auth is up.
    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_DEADLINE;
        let tls = self.tls_connector()?;
        loop {
            match self.probe(&tls) {
                Ok(()) => break,
                Err(e) if Instant::now() >= deadline => {
                    return Err(environment(format!(
                        "Dovecot started but did not accept a login within {}s: {e:#}\n{}",
                        READY_DEADLINE.as_secs(),
                        self.log_tail()
                    )));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        if self.master_pid.is_none() {
            self.master_pid = fs::read_to_string(self.dir.path().join("run/master.pid"))
                .ok()
                .and_then(|p| p.trim().parse().ok());
        }
        Ok(())
    }

    /// A TLS client that trusts this instance's CA.
    fn tls_connector(&self) -> anyhow::Result<native_tls::TlsConnector> {
        let pem = fs::read(&self.ca_file).context("cannot read the throwaway CA's certificate")?;
        let ca = native_tls::Certificate::from_pem(&pem)
            .context("the throwaway CA's certificate does not parse")?;
        native_tls::TlsConnector::builder()
            .add_root_certificate(ca)
            .build()
            .map_err(|e| environment(format!("cannot set up TLS for Dovecot: {e}")))
    }

    /// One readiness check, blocking: over imaps, LOGIN and SELECT INBOX as the probe user, then
    /// LOGOUT. Its own small client: the fixture shares no code with the tool's mail module.
    fn probe(&self, tls: &native_tls::TlsConnector) -> anyhow::Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.imaps_port));
        let tcp = TcpStream::connect_timeout(&addr, PROBE_CONNECT_TIMEOUT)
            .with_context(|| format!("cannot connect to {addr}"))?;
        tcp.set_read_timeout(Some(PROBE_REPLY_TIMEOUT))?;
        tcp.set_write_timeout(Some(PROBE_REPLY_TIMEOUT))?;
        let stream = tls
            .connect(self.host(), tcp)
            .map_err(|e| anyhow::anyhow!("the TLS handshake failed: {e}"))?;
        let mut client = imap::Client::new(stream);
        client
            .read_greeting()
            .map_err(|e| anyhow::anyhow!("no IMAP greeting: {e}"))?;
        let mut session = client
            .login(PROBE_USER, self.password(PROBE_USER))
            .map_err(|(e, _)| anyhow::anyhow!("the login failed: {e}"))?;
        session
            .select("INBOX")
            .map_err(|e| anyhow::anyhow!("SELECT INBOX failed: {e}"))?;
        let _ = session.logout();
        Ok(())
    }

    /// The last lines of the startup output and the log, for error messages.
    fn log_tail(&self) -> String {
        let mut out = String::new();
        for name in ["startup.log", "dovecot.log"] {
            let text = fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            if lines.is_empty() {
                continue;
            }
            let _ = writeln!(out, "--- last lines of {name}:");
            for line in &lines[lines.len().saturating_sub(20)..] {
                let _ = writeln!(out, "{line}");
            }
        }
        out
    }

    /// Stops the master and every process it started: login and IMAP processes outlive a
    /// stopped master, so their clients would not notice; a real restart cuts them off.
    fn stop(&mut self) {
        let Some(pid) = self.master_pid.take() else {
            return;
        };
        let members = session_members(pid);
        signal(pid, libc::SIGTERM);
        let deadline = Instant::now() + STOP_DEADLINE;
        while alive(pid) {
            if Instant::now() >= deadline {
                tracing::warn!(pid, "Dovecot did not stop in time; killing it");
                signal(pid, libc::SIGKILL);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for member in members.into_iter().filter(|m| *m != pid && alive(*m)) {
            signal(member, libc::SIGKILL);
        }
    }
}

fn signal(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) only sends a signal; a stale pid at worst gets ESRCH.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// The live processes of the session `sid` leads (the daemonized master and its children).
fn session_members(sid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After "pid (comm)": state, ppid, pgrp, session.
        let session = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(3))
            .and_then(|s| s.parse::<u32>().ok());
        if session == Some(sid) {
            members.push(pid);
        }
    }
    members
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a process runs (a zombie counts as gone: a container's init may never reap it).
fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
    }
}

fn check_installed() -> anyhow::Result<()> {
    // dovecot-core alone has no IMAP server: both binaries must be there.
    for binary in [DOVECOT_BIN, IMAP_BIN] {
        if !Path::new(binary).exists() {
            return Err(environment(format!(
                "Dovecot is not installed ({binary} is missing): {INSTALL_HINT}"
            )));
        }
    }
    match Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Ok(()),
        _ => Err(environment(format!(
            "the openssl command is not installed: {INSTALL_HINT}"
        ))),
    }
}

/// Two distinct free loopback ports (both held until both are known).
fn free_ports() -> anyhow::Result<[u16; 2]> {
    let bind = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| environment(format!("cannot find a free loopback port: {e}")))
    };
    let (a, b) = (bind()?, bind()?);
    Ok([a.local_addr()?.port(), b.local_addr()?.port()])
}

/// (name, uid, gid) of each /etc/passwd entry.
fn passwd() -> Vec<(String, u32, u32)> {
    fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            Some((
                fields.first()?.to_string(),
                fields.get(2)?.parse().ok()?,
                fields.get(3)?.parse().ok()?,
            ))
        })
        .collect()
}

fn group_name(gid: u32) -> Option<String> {
    fs::read_to_string("/etc/group")
        .ok()?
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.get(2)?.parse::<u32>().ok()? == gid).then(|| fields[0].to_string())
        })
}

/// As root: Dovecot's own accounts and `nobody` for mail. Otherwise everything runs as the
/// caller, the only account a non-root Dovecot can use.
fn accounts(dir: &Path) -> anyhow::Result<Accounts> {
    let meta = fs::metadata(dir)?;
    let (uid, gid) = (meta.uid(), meta.gid());
    let users = passwd();
    let find = |name: &str| users.iter().find(|(n, _, _)| n == name).cloned();
    if uid == 0 {
        let missing = |name: &str| {
            environment(format!(
                "the `{name}` account Dovecot runs as is missing: {INSTALL_HINT}"
            ))
        };
        find("dovenull").ok_or_else(|| missing("dovenull"))?;
        let (_, internal_uid, internal_gid) = find("dovecot").ok_or_else(|| missing("dovecot"))?;
        let (mail_uid, mail_gid) = find("nobody").map_or((65534, 65534), |(_, u, g)| (u, g));
        Ok(Accounts {
            login_user: "dovenull".into(),
            internal_user: "dovecot".into(),
            internal_group: group_name(internal_gid).unwrap_or_else(|| "dovecot".into()),
            mail_uid,
            mail_gid,
            auth_uid: internal_uid,
            root: true,
        })
    } else {
        let name = users
            .iter()
            .find(|(_, u, _)| *u == uid)
            .map(|(n, _, _)| n.clone())
            .or_else(|| std::env::var("USER").ok())
            .ok_or_else(|| {
                environment(format!("uid {uid} has no user name for Dovecot to run as"))
            })?;
        let group = group_name(gid).unwrap_or_else(|| name.clone());
        Ok(Accounts {
            login_user: name.clone(),
            internal_user: name,
            internal_group: group,
            mail_uid: uid,
            mail_gid: gid,
            auth_uid: uid,
            root: false,
        })
    }
}

/// The passwd-file (0600, readable by the auth process only) and each user's home, the token
/// users' too.
fn write_users(
    dir: &Path,
    users: &[(String, Secret)],
    token_users: &[String],
    accounts: &Accounts,
) -> anyhow::Result<()> {
    let mut text = String::new();
    for (user, password) in users {
        let _ = writeln!(text, "{user}:{{PLAIN}}{}", password.expose());
    }
    write_private(&dir.join("users"), &text, accounts)?;
    let home = dir.join("home");
    fs::create_dir(&home)?;
    fs::set_permissions(&home, fs::Permissions::from_mode(0o755))?;
    for user in users.iter().map(|(u, _)| u).chain(token_users) {
        let user_home = home.join(user);
        fs::create_dir(&user_home)?;
        if accounts.root {
            std::os::unix::fs::chown(&user_home, Some(accounts.mail_uid), Some(accounts.mail_gid))?;
        }
    }
    Ok(())
}

/// A file of passwords: 0600, created new, owned by the auth process's user.
fn write_private(path: &Path, text: &str, accounts: &Accounts) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create Dovecot's {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    if accounts.root {
        std::os::unix::fs::chown(path, Some(accounts.auth_uid), None)?;
    }
    Ok(())
}

/// A CA and a server certificate for localhost and 127.0.0.1 (P-256: generated in milliseconds).
fn make_certificates(tls: &Path) -> anyhow::Result<PathBuf> {
    fs::create_dir(tls)?;
    fs::set_permissions(tls, fs::Permissions::from_mode(0o755))?;
    fs::write(
        tls.join("server.ext"),
        "subjectAltName = DNS:localhost, IP:127.0.0.1\n\
         basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature, keyEncipherment\n\
         extendedKeyUsage = serverAuth\n",
    )?;
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let steps: [Vec<&str>; 3] = [
        [
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "7",
                "-subj",
                "/CN=cigna-setup throwaway CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        ]
        .concat(),
        [
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
        vec![
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "7",
            "-extfile",
            "server.ext",
        ],
    ];
    for args in steps {
        let mut command = Command::new("openssl");
        command.args(&args).current_dir(tls);
        run_tool(command, &format!("openssl {}", args[..2].join(" ")))?;
    }
    Ok(tls.join("ca.crt"))
}
