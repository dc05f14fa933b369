//! The running browser's DevTools are out of other local users' reach: Chromium listens on no
//! port, and nothing of the run answers a DevTools request from another account.

use std::collections::HashSet;
use std::time::Duration;

use crate::support::world::World;

/// The process and every process below it.
fn process_tree(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The fields after the command name, which may itself hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            parents.push((pid, ppid));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    tree
}

/// TCP ports the given processes listen on, from their socket inodes and `/proc/net/tcp{,6}`.
fn listening_ports(pids: &[u32]) -> Vec<u16> {
    let mut inodes = HashSet::new();
    for pid in pids {
        for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let target = target.to_string_lossy().into_owned();
                if let Some(inode) = target
                    .strip_prefix("socket:[")
                    .and_then(|t| t.strip_suffix(']'))
                {
                    inodes.insert(inode.to_string());
                }
            }
        }
    }
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for row in std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
        {
            let cols: Vec<&str> = row.split_whitespace().collect();
            let listening = cols.get(3) == Some(&"0A");
            if listening && cols.get(9).is_some_and(|inode| inodes.contains(*inode)) {
                let port = cols[1].rsplit(':').next().unwrap();
                ports.push(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports
}

fn cmdline(pid: u32) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default())
        .replace('\0', " ")
}

/// What `port` answers the `nobody` account for each DevTools request: the version, the page
/// list and a WebSocket upgrade.
fn devtools_answers_to_nobody(port: u16) -> Vec<String> {
    use std::os::unix::process::CommandExt;
    let requests = [
        "GET /json/version HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n",
        "GET /json/list HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n\\r\\n",
        "GET /devtools/browser HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nUpgrade: websocket\\r\\n\
         Connection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n\
         Sec-WebSocket-Version: 13\\r\\n\\r\\n",
    ];
    requests
        .iter()
        .map(|request| {
            let script = format!(
                "exec 3<>/dev/tcp/127.0.0.1/{port} || exit 0; printf '{request}' >&3; \
                 timeout 5 head -c 2000 <&3"
            );
            let out = std::process::Command::new("bash")
                .args(["-c", &script])
                .uid(65534)
                .gid(65534)
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_other_user_reaches_the_running_browsers_devtools() {
    let world = World::start(None).await;
    let child = world
        .existing("devtools.123456789@codes.zuub.test")
        .arg("--json")
        .spawn();
    let root = child.id().unwrap();
    // Looked at while the run is inside the portal, its page logged in.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let done = std::fs::read_dir(world.runs.path())
            .unwrap()
            .flatten()
            .map(|e| std::fs::read_to_string(e.path().join("journal.json")).unwrap_or_default())
            .any(|j| j.matches("\"status\": \"done\"").count() >= 2);
        if done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never got going"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let tree = process_tree(root);
    let lines: Vec<String> = tree.iter().map(|&p| cmdline(p)).collect();
    let browser: Vec<&String> = lines
        .iter()
        .filter(|c| c.contains("--user-data-dir") && !c.contains("--type="))
        .collect();
    assert_eq!(browser.len(), 1, "one browser under the run: {lines:#?}");
    assert!(
        browser[0].contains("--remote-debugging-pipe"),
        "{}",
        browser[0]
    );
    assert!(
        lines.iter().all(|c| !c.contains("--remote-debugging-port")),
        "{lines:#?}"
    );
    let ports = listening_ports(&tree);
    if cigna_setup::owner::is_root() {
        for port in &ports {
            for answer in devtools_answers_to_nobody(*port) {
                assert!(
                    !answer.contains("webSocketDebuggerUrl")
                        && !answer.contains("devtools")
                        && !answer.contains(" 101 "),
                    "port {port} answered another user: {answer}"
                );
            }
        }
    }
    assert_eq!(
        ports,
        Vec::<u16>::new(),
        "the run listens on TCP: {lines:#?}"
    );

    let out = child.wait_with_output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A browser named through a wrapper script that runs it without `exec` (as Debian's
/// `/usr/bin/chromium-headless-shell` does) leaves nothing running once the run lets go of it
/// without closing it (a panic, a dropped future): the wrapper, the browser and its helpers
/// all go, because they share the process group we kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_behind_a_wrapper_goes_with_everything_it_started() {
    use cigna_setup::browser::{find_executable, Browser, BrowserOptions};
    use std::os::unix::fs::PermissionsExt;
    let real = find_executable(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("browser-wrapper");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\n\"{}\" \"$@\"\n", real.display()),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let profile = dir.path().join("profile");
    let browser = Browser::launch(BrowserOptions {
        executable: wrapper.clone(),
        profile_dir: Some(profile.clone()),
        loopback_only: true,
    })
    .await
    .unwrap();
    let marker = format!("--user-data-dir={}", profile.display());
    let running = crate::support::run::processes_mentioning(&marker);
    assert!(
        running.len() >= 2,
        "the wrapper and the browser run: {running:?}"
    );
    drop(browser);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = crate::support::run::processes_mentioning(&marker);
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running 10 s after the browser was dropped: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
