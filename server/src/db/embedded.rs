//! The private PostgreSQL cluster Trailkeeper runs when `DATABASE_URL` is unset.
//!
//! It lives under `$TRAILKEEPER_DATA_DIR/pg`, listens only on a unix socket inside that
//! directory (no TCP port, trust auth restricted by the directory's 0700 mode), and is shared
//! by every `trailkeeper` process using the same data directory:
//!
//! - `pg.lock` (exclusive) serialises starting and stopping, so no two processes ever start
//!   a postmaster on the same files;
//! - `pg.users` (shared) is held by each process while it uses the cluster; the last process
//!   to leave stops the cluster ("last one out turns off the lights").
//!
//! PostgreSQL refuses to run as root, so when Trailkeeper runs as root the cluster belongs to
//! the system user `postgres` and every server program runs as that user.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nix::unistd::{Gid, Uid, User};
use sqlx::postgres::PgConnectOptions;

/// The cluster's bootstrap superuser and the database Trailkeeper uses in it.
pub const SUPERUSER: &str = "trailkeeper";
pub const DATABASE: &str = "trailkeeper";
/// The role Trailkeeper serves as: it owns nothing (see migration 0017).
pub const SERVING_LOGIN: &str = "trailkeeper_app";

/// The system user that owns the cluster when Trailkeeper runs as root.
const SERVICE_USER: &str = "postgres";

/// A unix socket path must fit in `sun_path` (108 bytes including the terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "PostgreSQL's server programs (initdb, pg_ctl) were not found on PATH or under \
         /usr/lib/postgresql/*/bin; install them (Debian/Ubuntu: `apt-get install postgresql`) \
         or set DATABASE_URL to an existing PostgreSQL server"
    )]
    ProgramsMissing,
    #[error(
        "trailkeeper runs as root and PostgreSQL refuses to, so the private cluster must run as \
         the system user `postgres`, which does not exist; install PostgreSQL's server package \
         (it creates that user) or set DATABASE_URL"
    )]
    NoServiceUser,
    #[error(
        "the system user `postgres`, which runs the private PostgreSQL, cannot enter {0}; \
         choose a TRAILKEEPER_DATA_DIR outside it or allow others to traverse it (chmod o+x)"
    )]
    Unreachable(PathBuf),
    #[error(
        "the PostgreSQL socket path {0} is longer than {MAX_SOCKET_PATH} bytes; \
         use a shorter TRAILKEEPER_DATA_DIR"
    )]
    SocketPathTooLong(PathBuf),
    #[error("{context} ({path})")]
    Io {
        context: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{program} failed ({status}): {detail}")]
    Program {
        program: String,
        status: String,
        detail: String,
    },
}

fn io_error(context: &'static str, path: &Path) -> impl FnOnce(io::Error) -> EmbeddedError {
    let path = path.to_path_buf();
    move |source| EmbeddedError::Io {
        context,
        path,
        source,
    }
}

/// A running private cluster this process is registered as a user of. Call
/// [`EmbeddedPostgres::release`] when done; dropping it only unregisters.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    data_dir: PathBuf,
    cluster_dir: PathBuf,
    programs: PathBuf,
    owner: Option<ServiceUser>,
    /// Shared lock on `pg.users`, held for as long as this process uses the cluster.
    membership: File,
}

#[derive(Debug, Clone, Copy)]
struct ServiceUser {
    uid: Uid,
    gid: Gid,
}

/// What `postmaster.pid` says about the cluster.
#[derive(Debug, PartialEq, Eq)]
enum PostmasterState {
    Stopped,
    Running {
        pid: i32,
    },
    /// The lock file names a process that is gone (or is no postgres): left by a crash.
    StaleLock {
        pid: i32,
    },
}

impl EmbeddedPostgres {
    /// Creates the cluster on first use, starts it unless it already runs, and registers this
    /// process as one of its users. Blocking: call from a blocking context.
    pub fn start(data_dir: &Path) -> Result<Self, EmbeddedError> {
        let programs = find_server_programs().ok_or(EmbeddedError::ProgramsMissing)?;
        let owner = service_user()?;
        fs::create_dir_all(data_dir)
            .map_err(io_error("cannot create the data directory", data_dir))?;
        let data_dir = data_dir
            .canonicalize()
            .map_err(io_error("cannot resolve the data directory", data_dir))?;
        if let Some(owner) = owner {
            // The service user must be able to reach its cluster inside our data directory.
            fs::set_permissions(&data_dir, fs::Permissions::from_mode(0o711)).map_err(io_error(
                "cannot set permissions of the data directory",
                &data_dir,
            ))?;
            check_reachable(&data_dir, owner)?;
        }
        let cluster_dir = data_dir.join("pg");
        let socket = cluster_dir.join(".s.PGSQL.5432");
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(EmbeddedError::SocketPathTooLong(socket));
        }

        let control = lock_file(&data_dir.join("pg.lock"), LockKind::Exclusive)?;
        let cluster = EmbeddedPostgres {
            membership: lock_file(&data_dir.join("pg.users"), LockKind::Shared)?,
            data_dir,
            cluster_dir,
            programs,
            owner,
        };
        if !cluster.cluster_dir.join("PG_VERSION").exists() {
            cluster.initialise()?;
        }
        match postmaster_state(&cluster.cluster_dir)? {
            PostmasterState::Running { pid } => {
                tracing::info!(pid, dir = %cluster.cluster_dir.display(), "using the private PostgreSQL that is already running");
            }
            PostmasterState::StaleLock { pid } => {
                tracing::warn!(
                    pid,
                    dir = %cluster.cluster_dir.display(),
                    "the private PostgreSQL did not shut down cleanly (its lock names process {pid}, which is no longer a PostgreSQL server); removing the stale lock and starting it, PostgreSQL recovers from its write-ahead log"
                );
                cluster.remove_stale_locks()?;
                cluster.run_server()?;
            }
            PostmasterState::Stopped => cluster.run_server()?,
        }
        drop(control);
        Ok(cluster)
    }

    /// How to connect to Trailkeeper's database in this cluster.
    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.cluster_dir)
            .username(SUPERUSER)
            .database(DATABASE)
    }

    pub fn cluster_dir(&self) -> &Path {
        &self.cluster_dir
    }

    /// Unregisters this process; stops the cluster if no other `trailkeeper` process uses it.
    /// Blocking: call from a blocking context.
    pub fn release(self) -> Result<(), EmbeddedError> {
        let control = lock_file(&self.data_dir.join("pg.lock"), LockKind::Exclusive)?;
        let users_path = self.data_dir.join("pg.users");
        let EmbeddedPostgres {
            cluster_dir,
            programs,
            owner,
            membership,
            ..
        } = self;
        drop(membership);
        let users = open_lock_file(&users_path)?;
        // A process being started elsewhere in this program holds a copy of our share of
        // the lock until it executes its program, so a held lock is asked again for a moment
        // before concluding that other processes use the cluster.
        let last_user = (0..50).any(|attempt| {
            if attempt > 0 {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            users.try_lock().is_ok()
        });
        if last_user {
            tracing::info!(dir = %cluster_dir.display(), "stopping the private PostgreSQL");
            let mut stop = server_program(&programs, "pg_ctl", owner);
            stop.arg("stop")
                .arg("-D")
                .arg(&cluster_dir)
                .args(["-m", "fast", "-w", "-s"]);
            run(stop)?;
        } else {
            tracing::info!(
                "other trailkeeper processes still use the private PostgreSQL; leaving it running"
            );
        }
        drop(control);
        Ok(())
    }

    /// Runs `initdb` into a scratch directory and renames it into place, so that an
    /// interrupted first start never leaves a half-made cluster behind.
    fn initialise(&self) -> Result<(), EmbeddedError> {
        let scratch = self.data_dir.join("pg.initdb");
        if scratch.exists() {
            fs::remove_dir_all(&scratch)
                .map_err(io_error("cannot remove an unfinished cluster", &scratch))?;
        }
        fs::create_dir(&scratch)
            .map_err(io_error("cannot create the cluster directory", &scratch))?;
        fs::set_permissions(&scratch, fs::Permissions::from_mode(0o700)).map_err(io_error(
            "cannot set permissions of the cluster directory",
            &scratch,
        ))?;
        if let Some(owner) = self.owner {
            nix::unistd::chown(&scratch, Some(owner.uid), Some(owner.gid)).map_err(|errno| {
                EmbeddedError::Io {
                    context: "cannot hand the cluster directory to the postgres user",
                    path: scratch.clone(),
                    source: errno.into(),
                }
            })?;
        }
        tracing::info!(dir = %self.cluster_dir.display(), "creating the private PostgreSQL cluster (first run)");
        let mut initdb = server_program(&self.programs, "initdb", self.owner);
        initdb.arg("-D").arg(&scratch).args([
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--no-locale",
            "--auth=trust",
            "--no-instructions",
        ]);
        run(initdb)?;
        fs::rename(&scratch, &self.cluster_dir).map_err(io_error(
            "cannot move the new cluster into place",
            &self.cluster_dir,
        ))
    }

    fn run_server(&self) -> Result<(), EmbeddedError> {
        let log = self.cluster_dir.join("server.log");
        let socket_dir = self.cluster_dir.to_string_lossy().replace('\'', "''");
        let mut start = server_program(&self.programs, "pg_ctl", self.owner);
        start
            .arg("start")
            .arg("-D")
            .arg(&self.cluster_dir)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "120", "-s", "-o"])
            .arg(format!(
                "-c listen_addresses='' -c unix_socket_directories='{socket_dir}'"
            ));
        tracing::info!(dir = %self.cluster_dir.display(), "starting the private PostgreSQL");
        run(start).map_err(|error| match error {
            EmbeddedError::Program {
                program,
                status,
                detail,
            } => EmbeddedError::Program {
                program,
                status,
                detail: format!(
                    "{detail}; last lines of {}:\n{}",
                    log.display(),
                    tail(&log, 10)
                ),
            },
            other => other,
        })?;
        Ok(())
    }

    fn remove_stale_locks(&self) -> Result<(), EmbeddedError> {
        for lock in [
            self.cluster_dir.join("postmaster.pid"),
            self.cluster_dir.join(".s.PGSQL.5432.lock"),
            self.cluster_dir.join(".s.PGSQL.5432"),
        ] {
            match fs::remove_file(&lock) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(io_error("cannot remove a stale lock", &lock)(error)),
            }
        }
        Ok(())
    }
}

/// `initdb` and `pg_ctl` on PATH, else in the newest Debian-style `/usr/lib/postgresql/N/bin`:
/// the directory of PostgreSQL's server programs.
pub fn find_server_programs() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    find_server_programs_in(
        std::env::split_paths(&path),
        Path::new("/usr/lib/postgresql"),
    )
}

fn find_server_programs_in(
    path: impl Iterator<Item = PathBuf>,
    versioned_root: &Path,
) -> Option<PathBuf> {
    let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir(versioned_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versioned.sort();
    path.chain(versioned.into_iter().rev().map(|(_, bin)| bin))
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

fn service_user() -> Result<Option<ServiceUser>, EmbeddedError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    match User::from_name(SERVICE_USER) {
        Ok(Some(user)) => Ok(Some(ServiceUser {
            uid: user.uid,
            gid: user.gid,
        })),
        _ => Err(EmbeddedError::NoServiceUser),
    }
}

/// Every directory from `/` down to `dir` must be searchable by the service user.
fn check_reachable(dir: &Path, user: ServiceUser) -> Result<(), EmbeddedError> {
    for ancestor in dir.ancestors() {
        let meta =
            fs::metadata(ancestor).map_err(io_error("cannot inspect a directory", ancestor))?;
        let mode = meta.mode();
        let searchable = if meta.uid() == user.uid.as_raw() {
            mode & 0o100 != 0
        } else if meta.gid() == user.gid.as_raw() {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !searchable {
            return Err(EmbeddedError::Unreachable(ancestor.to_path_buf()));
        }
    }
    Ok(())
}

fn server_program(programs: &Path, name: &str, owner: Option<ServiceUser>) -> Command {
    let mut command = Command::new(programs.join(name));
    // The server must not inherit our working directory's permissions problems or locale,
    // nor our environment: it holds AWS credentials, TRAILKEEPER_SECRET_KEY and the OIDC
    // client secret, which the cluster's processes (and the `postgres` user) have no need of.
    command
        .current_dir("/")
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LC_ALL", "C");
    if let Some(owner) = owner {
        command.uid(owner.uid.as_raw()).gid(owner.gid.as_raw());
    }
    command
}

fn run(mut command: Command) -> Result<Output, EmbeddedError> {
    let program = Path::new(command.get_program())
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let output = command.output().map_err(|source| EmbeddedError::Io {
        context: "cannot run a PostgreSQL program",
        path: PathBuf::from(command.get_program()),
        source,
    })?;
    if output.status.success() {
        return Ok(output);
    }
    let mut detail = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if detail.is_empty() {
        detail = String::from_utf8_lossy(&output.stdout).trim().to_string();
    }
    Err(EmbeddedError::Program {
        program,
        status: output.status.to_string(),
        detail,
    })
}

fn postmaster_state(cluster_dir: &Path) -> Result<PostmasterState, EmbeddedError> {
    let pid_file = cluster_dir.join("postmaster.pid");
    let contents = match fs::read_to_string(&pid_file) {
        Ok(contents) => contents,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Ok(PostmasterState::Stopped);
        }
        Err(error) => {
            return Err(io_error("cannot read the postmaster lock", &pid_file)(
                error,
            ));
        }
    };
    let Some(pid) = contents
        .lines()
        .next()
        .and_then(|line| line.trim().parse::<i32>().ok())
    else {
        // An empty or torn lock file: the postmaster died while writing it.
        return Ok(PostmasterState::StaleLock { pid: 0 });
    };
    Ok(if is_postgres_process(pid) {
        PostmasterState::Running { pid }
    } else {
        PostmasterState::StaleLock { pid }
    })
}

/// True when `pid` is alive and is a PostgreSQL server. Checking the name (not only that the
/// pid exists) matters after a crash: the old pid is often reused by an unrelated process.
fn is_postgres_process(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|name| name.trim() == "postgres")
}

enum LockKind {
    Shared,
    Exclusive,
}

fn open_lock_file(path: &Path) -> Result<File, EmbeddedError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_error("cannot open a lock file", path))
}

fn lock_file(path: &Path, kind: LockKind) -> Result<File, EmbeddedError> {
    let file = open_lock_file(path)?;
    match kind {
        LockKind::Shared => file.lock_shared(),
        LockKind::Exclusive => file.lock(),
    }
    .map_err(io_error("cannot lock", path))?;
    Ok(file)
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_programs(dir: &Path) {
        fs::create_dir_all(dir).unwrap();
        for program in ["initdb", "pg_ctl"] {
            fs::write(dir.join(program), "").unwrap();
        }
    }

    #[test]
    fn server_programs_come_from_path_first_then_the_newest_versioned_directory() {
        let root = tempfile::tempdir().unwrap();
        let versioned = root.path().join("lib/postgresql");
        fake_programs(&versioned.join("9/bin"));
        fake_programs(&versioned.join("16/bin"));
        let found = find_server_programs_in(std::iter::empty(), &versioned);
        assert_eq!(found, Some(versioned.join("16/bin")), "16 is newer than 9");

        let on_path = root.path().join("bin");
        fake_programs(&on_path);
        let found = find_server_programs_in(
            [root.path().join("empty"), on_path.clone()].into_iter(),
            &versioned,
        );
        assert_eq!(found, Some(on_path));
    }

    #[test]
    fn missing_server_programs_are_reported_with_how_to_install_them() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(
            find_server_programs_in(std::iter::empty(), root.path()),
            None
        );
        let message = EmbeddedError::ProgramsMissing.to_string();
        assert!(message.contains("apt-get install postgresql"), "{message}");
        assert!(message.contains("DATABASE_URL"), "{message}");
    }

    #[test]
    fn a_missing_lock_file_means_stopped() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            postmaster_state(dir.path()).unwrap(),
            PostmasterState::Stopped
        );
    }

    #[test]
    fn a_lock_naming_a_dead_or_foreign_process_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let own_pid = std::process::id() as i32; // alive, but not a postgres server
        fs::write(
            dir.path().join("postmaster.pid"),
            format!("{own_pid}\n/some/dir\n"),
        )
        .unwrap();
        assert_eq!(
            postmaster_state(dir.path()).unwrap(),
            PostmasterState::StaleLock { pid: own_pid }
        );

        fs::write(dir.path().join("postmaster.pid"), "").unwrap();
        assert_eq!(
            postmaster_state(dir.path()).unwrap(),
            PostmasterState::StaleLock { pid: 0 }
        );
    }
}
