//! The managed local PostgreSQL cluster: what makes `cargo run --release` work with
//! no `DATABASE_URL`, and what the test harness starts for throwaway databases.
//!
//! It uses the server binaries already on the machine (`pg_config --bindir`, then
//! `/usr/lib/postgresql/*/bin`), keeps its data in `<dir>/pgdata`, listens on
//! 127.0.0.1 only (no Unix socket, so long paths do not matter) on a port picked
//! at each start, and trusts local connections. Postgres refuses to run as root,
//! so as root every server command runs as the `postgres` user.
//!
//! That user must be able to enter every directory above `<dir>`. A checkout
//! in `/root` (mode 0700) is out of its reach, so there the cluster lives in
//! `/var/lib/hookrelay/<hash of dir>` instead, with `<dir>/pgdata` a symlink to
//! its data: the same data dir finds the same cluster on every run, and, unlike
//! the temp dir, after a reboot.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no PostgreSQL server found (looked for pg_config and /usr/lib/postgresql/*/bin): \
         install the PostgreSQL server package (e.g. `apt-get install postgresql`), or set DATABASE_URL"
    )]
    NotInstalled,
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error(
        "the postgres user (the server runs as it when hookrelay runs as root) cannot reach {}: {advice}",
        dir.display()
    )]
    Unreachable { dir: PathBuf, advice: String },
}

/// Where clusters live whose data dir the `postgres` user cannot enter.
const UNREACHABLE_HOME: &str = "/var/lib/hookrelay";

/// What to do when no place the `postgres` user can reach will do.
const ELSEWHERE: &str =
    "set HOOKRELAY_DATA_DIR to a directory it can enter (e.g. under /var/lib), \
     or DATABASE_URL to a server of your own";

/// Tuning for a cluster that only tests use: durability traded for speed.
pub const THROWAWAY_SETTINGS: &str =
    "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n";

#[derive(Debug, Clone)]
pub struct LocalCluster {
    bindir: PathBuf,
    pgdata: PathBuf,
    log: PathBuf,
    port: u16,
    /// False when the server was already running: then it is not ours to stop.
    started_here: bool,
}

impl LocalCluster {
    /// Starts the cluster in `dir` (creating it on first use), or finds it already
    /// running there; `extra_settings` are appended to postgresql.conf at creation.
    pub fn start(dir: &Path, extra_settings: &str) -> Result<LocalCluster, ClusterError> {
        let bindir = find_bindir()?;
        std::fs::create_dir_all(dir)
            .map_err(|e| ClusterError::Io(format!("creating {}", dir.display()), e))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| ClusterError::Io(format!("resolving {}", dir.display()), e))?;
        let home = if as_root() {
            let home = reachable_home(&dir)?;
            chown_postgres(&home)?;
            home
        } else {
            dir
        };
        let pgdata = home.join("pgdata");
        let log = home.join("postgres.log");
        if !pgdata.join("PG_VERSION").exists() {
            init(&bindir, &pgdata, extra_settings)?;
        }
        if let Some(port) = running_port(&bindir, &pgdata) {
            tracing::info!(port, dir = %pgdata.display(), "using the local Postgres already running");
            return Ok(LocalCluster {
                bindir,
                pgdata,
                log,
                port,
                started_here: false,
            });
        }
        let port = free_port()?;
        run_server_command(
            &bindir,
            "pg_ctl",
            &[
                "start".as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "-D".as_ref(),
                pgdata.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                format!("-p {port}").as_ref(),
            ],
        )?;
        tracing::info!(port, dir = %pgdata.display(), "started the local Postgres");
        Ok(LocalCluster {
            bindir,
            pgdata,
            log,
            port,
            started_here: true,
        })
    }

    pub fn started_here(&self) -> bool {
        self.started_here
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.pgdata
    }

    pub fn log_file(&self) -> &Path {
        &self.log
    }

    /// A URL for `database` on this cluster, as the `postgres` superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the server, letting sessions finish first ("fast" mode: no new
    /// connections, open transactions rolled back).
    pub fn stop(&self) -> Result<(), ClusterError> {
        self.pg_ctl(&["stop", "-w", "-m", "fast"])
    }

    /// Stops the server at once, as a crash would (tests that restart the database).
    pub fn kill(&self) -> Result<(), ClusterError> {
        self.pg_ctl(&["stop", "-w", "-m", "immediate"])
    }

    /// Starts a stopped server again on the same port.
    pub fn restart(&self) -> Result<(), ClusterError> {
        let port = format!("-p {}", self.port);
        let log = self.log.to_string_lossy().into_owned();
        self.pg_ctl(&["start", "-w", "-t", "60", "-l", &log, "-o", &port])
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), ClusterError> {
        let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        all.push("-D".as_ref());
        all.push(self.pgdata.as_os_str());
        run_server_command(&self.bindir, "pg_ctl", &all)
    }

    /// The shell command that stops this server at once: for a watchdog that
    /// outlives the process that started it.
    pub fn kill_command(&self) -> String {
        let pg_ctl = self.bindir.join("pg_ctl");
        let inner = format!(
            "{} stop -m immediate -D {}",
            shell_quote(&pg_ctl.to_string_lossy()),
            shell_quote(&self.pgdata.to_string_lossy())
        );
        if as_root() {
            format!("runuser -u postgres -- {inner}")
        } else {
            inner
        }
    }
}

fn init(bindir: &Path, pgdata: &Path, extra_settings: &str) -> Result<(), ClusterError> {
    run_server_command(
        bindir,
        "initdb",
        &[
            "-D".as_ref(),
            pgdata.as_os_str(),
            "-U".as_ref(),
            "postgres".as_ref(),
            "--auth=trust".as_ref(),
            "--encoding=UTF8".as_ref(),
            "--no-instructions".as_ref(),
        ],
    )?;
    // wal_init_zero: a new cluster has no WAL segments to recycle, so each
    // 16 MB segment would be written as zeros and synced before use; at
    // 5,000 events/s that is one every second or so, and every commit waits
    // behind it (measured: p99 60 ms against 24 ms with it off). Without it
    // the segment is made sparse, and its blocks are allocated as WAL is
    // written and synced with it, so a commit is as durable as before.
    let settings = format!(
        "\n# hookrelay's managed cluster\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n\
         max_connections = 300\nlog_min_messages = warning\nwal_init_zero = off\n{extra_settings}"
    );
    let conf = pgdata.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf)
        .map_err(|e| ClusterError::Io(format!("reading {}", conf.display()), e))?;
    text.push_str(&settings);
    std::fs::write(&conf, text)
        .map_err(|e| ClusterError::Io(format!("writing {}", conf.display()), e))?;
    Ok(())
}

/// The port of a server already running on `pgdata` (line 4 of postmaster.pid).
fn running_port(bindir: &Path, pgdata: &Path) -> Option<u16> {
    let pidfile = std::fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
    let status = run_server_command(
        bindir,
        "pg_ctl",
        &["status".as_ref(), "-D".as_ref(), pgdata.as_os_str()],
    );
    if status.is_err() {
        return None;
    }
    pidfile.lines().nth(3)?.trim().parse().ok()
}

/// A program of the server installation found on this machine (`pg_dump`,
/// `psql`): the same one the managed cluster runs.
pub fn server_program(name: &str) -> Result<PathBuf, ClusterError> {
    Ok(find_bindir()?.join(name))
}

fn find_bindir() -> Result<PathBuf, ClusterError> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_server(&dir) {
            return Ok(dir);
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| has_server(p))
        .collect();
    // Highest major version first.
    candidates.sort_by_key(|p| {
        std::cmp::Reverse(
            p.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0),
        )
    });
    candidates
        .into_iter()
        .next()
        .ok_or(ClusterError::NotInstalled)
}

fn as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the effective user: what Postgres itself checks.
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Where the cluster of `dir` can live as the `postgres` user: `dir` itself if
/// that user can enter its parent, else a directory of `UNREACHABLE_HOME` named
/// after `dir` (or the one `<dir>/pgdata` already links to), linked from
/// `<dir>/pgdata`.
fn reachable_home(dir: &Path) -> Result<PathBuf, ClusterError> {
    let parent = dir.parent().unwrap_or(dir);
    if postgres_can_enter(parent) {
        return Ok(dir.to_owned());
    }
    let unreachable = |advice: String| ClusterError::Unreachable {
        dir: dir.to_owned(),
        advice,
    };
    let link = dir.join("pgdata");
    // A link an earlier run made is followed, so a checkout that was moved
    // (and so hashes differently) keeps its cluster.
    let earlier = std::fs::read_link(&link).ok().and_then(|target| {
        let home = target.parent()?;
        let ours = target.ends_with("pgdata") && home.parent() == Some(Path::new(UNREACHABLE_HOME));
        ours.then(|| home.to_owned())
    });
    let home = earlier.unwrap_or_else(|| {
        let digest = sha2::Sha256::digest(dir.as_os_str().as_encoded_bytes());
        let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Path::new(UNREACHABLE_HOME).join(name)
    });
    std::fs::create_dir_all(&home).map_err(|e| {
        unreachable(format!(
            "creating {} failed ({e}); {ELSEWHERE}",
            home.display()
        ))
    })?;
    // Made here by root, possibly under a strict umask: the postgres user must enter it.
    std::fs::set_permissions(UNREACHABLE_HOME, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| ClusterError::Io(format!("opening up {UNREACHABLE_HOME}"), e))?;
    if !postgres_can_enter(Path::new(UNREACHABLE_HOME)) {
        return Err(unreachable(format!(
            "it cannot enter {UNREACHABLE_HOME} either; {ELSEWHERE}"
        )));
    }
    let target = home.join("pgdata");
    match std::fs::symlink_metadata(&link) {
        Ok(m) if m.file_type().is_symlink() => {
            if std::fs::read_link(&link).ok().as_deref() != Some(target.as_path()) {
                std::fs::remove_file(&link)
                    .map_err(|e| ClusterError::Io(format!("replacing {}", link.display()), e))?;
                symlink(&target, &link)?;
            }
        }
        Ok(_) => {
            return Err(unreachable(format!(
                "move {} to {} (and chown -R postgres: it), or {ELSEWHERE}",
                link.display(),
                target.display()
            )))
        }
        Err(_) => symlink(&target, &link)?,
    }
    tracing::info!(
        data_dir = %dir.display(),
        cluster = %home.display(),
        "the postgres user cannot enter {}: the managed cluster lives in {} ({} links there)",
        parent.display(),
        home.display(),
        link.display()
    );
    Ok(home)
}

/// Whether the `postgres` user can enter `dir`, and so every directory above it.
fn postgres_can_enter(dir: &Path) -> bool {
    Command::new("runuser")
        .args(["-u", "postgres", "--", "test", "-x"])
        .arg(dir)
        .current_dir("/")
        .output()
        .is_ok_and(|out| out.status.success())
}

fn symlink(target: &Path, link: &Path) -> Result<(), ClusterError> {
    std::os::unix::fs::symlink(target, link).map_err(|e| {
        ClusterError::Io(
            format!("linking {} to {}", link.display(), target.display()),
            e,
        )
    })
}

fn chown_postgres(dir: &Path) -> Result<(), ClusterError> {
    let out = Command::new("chown")
        .arg("-R")
        .arg("postgres:")
        .arg(dir)
        .output()
        .map_err(|e| ClusterError::Io("running chown".into(), e))?;
    if !out.status.success() {
        return Err(ClusterError::Command {
            what: format!("chown postgres {}", dir.display()),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

fn run_server_command(
    bindir: &Path,
    program: &str,
    args: &[&std::ffi::OsStr],
) -> Result<(), ClusterError> {
    let path = bindir.join(program);
    let mut cmd = if as_root() {
        let mut c = Command::new("runuser");
        c.arg("-u").arg("postgres").arg("--").arg(&path);
        c
    } else {
        Command::new(&path)
    };
    // The server's own locale settings, not the caller's, decide initdb's defaults.
    cmd.args(args).env("LC_ALL", "C").current_dir("/");
    let out = cmd
        .output()
        .map_err(|e| ClusterError::Io(format!("running {}", path.display()), e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ClusterError::Command {
            what: format!(
                "{program} {}",
                args.first()
                    .map(|a| a.to_string_lossy())
                    .unwrap_or_default()
            ),
            detail: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            ),
        })
    }
}

fn free_port() -> Result<u16, ClusterError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| ClusterError::Io("finding a free port".into(), e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| ClusterError::Io("finding a free port".into(), e))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
