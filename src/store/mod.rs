//! SQLite storage through sqlx: every SQL statement of the crate lives under this module.
//!
//! Invariants:
//! - A page of comments and the walk state that says "this page is done" commit in one transaction
//!   ([`Store::save_comment_page`]), so a crash at any point neither loses nor duplicates a comment.
//!   [`PageWriter`] stores the pages of concurrent walks in group commits, each page still whole
//!   and in the order it was handed in.
//! - Comments are keyed by `(post, platform id)`: seeing a comment again updates it only when its text
//!   or visibility changed, so a poll that sees nothing new writes nothing.
//! - Whether a question is answered is derived from the stored replies and @mentions by
//!   [`Store::save_comment_page`], never set by hand; a later poll that sees the owner's reply
//!   resolves the question by itself.
//!
//! Timestamps are Unix seconds, and the SQL avoids SQLite-only syntax where a portable form exists,
//! so that a PostgreSQL backend can follow. The exception is the hot path, storing a page
//! (`comments::write_page`): one multi-statement query reading the page from JSONB and passing
//! counts between statements with `changes()`, because a round trip per statement to SQLite's
//! thread cost more than the statements. A PostgreSQL backend would write that one function with
//! `jsonb_to_recordset` and `RETURNING`.

mod accounts;
mod audit;
mod comments;
mod deletions;
mod deliveries;
#[cfg(test)]
mod fixtures;
mod queries;
mod schedule;
mod tokens;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use accounts::AccountHealth;
pub use audit::{AnswerRole, AuditAnswer, AuditComment, AuditPost, AuditWindow};
pub use comments::{ClassifiedComment, PageWriteOutcome, WalkProgress, WalkState};
pub use deliveries::{CountGap, FailingDelivery, PendingDelivery};
pub use queries::{OpenQuestion, QuestionScope, RecentComment, StoredComment, Totals};
pub use schedule::{AccountSchedule, PostSchedule, WalkRecord};
pub use tokens::{TokenHealth, TokenRecord};
pub use writer::{PageWriter, PendingPage, WalkId};

/// Errors from the store. The caller can only report them: a storage failure is not retried here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot open the database {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("corrupt row in {table}: {reason}")]
    Corrupt { table: &'static str, reason: String },
    /// A page was refused because an earlier page of the same walk could not be stored: storing
    /// it would move the walk's cursor past the lost page.
    #[error(
        "an earlier page of this walk could not be stored; the walk resumes from its last stored page"
    )]
    EarlierPageFailed,
    #[error("the page writer stopped before storing the page")]
    WriterStopped,
    #[error("the runtime shut down before a write finished")]
    WriteCancelled,
}

/// Row id of an account in this database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccountKey(i64);

/// Row id of a post in this database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PostKey(i64);

/// The database handle, cheap to clone: a small pool for reads, and one connection for every
/// write of this process.
///
/// SQLite takes one writer at a time. With writes spread over a pool, a connection that finds the
/// lock taken waits in SQLite's busy handler, which sleeps 1–100 ms between tries (a backfill
/// slept 1,600 times); queued in front of a single connection, writes wait only for each other.
/// That connection's page cache also stays valid, since no other connection of this process
/// changes the file under it.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    writes: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database file and applies the embedded migrations.
    ///
    /// WAL lets digests and audits read while the worker writes; `synchronous = NORMAL` is safe with
    /// WAL (a power cut may lose the last transactions, never corrupt the file).
    ///
    /// The database holds access and refresh tokens: on Unix a new file is created readable by its
    /// owner only (0600), and SQLite gives the `-wal` and `-shm` files the mode of the database
    /// file. An existing file keeps the mode its owner chose.
    ///
    /// # Errors
    /// The file cannot be opened or created, or a migration fails.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        create_owner_only(path)
            .await
            .map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                source: sqlx::Error::Io(e),
            })?;
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // A multi-row insert's statement journal outgrows SQLite's 64 KiB in-memory default and
            // spills to a temporary file: two in five write calls of a backfill went there.
            .pragma("temp_store", "memory")
            // 16 MiB of page cache per connection instead of 2: a backfill's index pages stay
            // cached between pages (a third fewer reads).
            .pragma("cache_size", "-16384")
            // Checkpoint every ~40 MB of WAL instead of every 4 MB: pages rewritten by successive
            // commits are copied to the database once per checkpoint, not ten times.
            .pragma("wal_autocheckpoint", "10000");
        let connect = |connections: u32| {
            SqlitePoolOptions::new()
                .max_connections(connections)
                // A local file needs no round trip to SQLite's thread to prove it is still there.
                .test_before_acquire(false)
                .connect_with(options.clone())
        };
        let open_error = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let writes = connect(1).await.map_err(open_error)?;
        sqlx::migrate!("./migrations").run(&writes).await?;
        let pool = connect(4).await.map_err(open_error)?;
        Ok(Store { pool, writes })
    }

    /// Starts a write transaction that takes the write lock up front (`BEGIN IMMEDIATE`). A
    /// deferred transaction that reads first and writes later fails at once with "database is
    /// locked" when another connection wrote in between (WAL snapshot upgrade); an immediate one
    /// waits for the lock under the busy timeout instead.
    pub(super) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.writes.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Runs a write on a task of its own and waits for it.
    ///
    /// SQLite has one writer, and the store one write connection: it stays taken from the
    /// moment a statement is sent until the task that sent it takes the result. The worker's
    /// walks share one task, which parses and classifies pages between its awaits; a write
    /// awaited there kept the connection (and the page writer's group commits queued behind it)
    /// until that task came round to it: in a backfill, the group commits spent a quarter of
    /// their time waiting to begin. A task of its own takes the result at once. The write goes on
    /// to its end if the caller stops waiting, as a statement already sent would.
    pub(super) async fn write_detached<T, F>(
        &self,
        write: impl FnOnce(Store) -> F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        match tokio::spawn(write(self.clone())).await {
            Ok(result) => result,
            Err(join) => match join.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => Err(StoreError::WriteCancelled),
            },
        }
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
        self.writes.close().await;
    }
}

/// Creates an empty database file with mode 0600, unless the file exists. SQLite takes an empty
/// file for a new database.
#[cfg(unix)]
async fn create_owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let created = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await;
    match created {
        // The umask may have taken bits away from 0600; the mode is set again, whatever it is.
        Ok(file) => {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .await
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
async fn create_owner_only(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

fn to_unix(at: DateTime<Utc>) -> i64 {
    at.timestamp()
}

fn from_unix(table: &'static str, secs: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp(secs, 0).ok_or_else(|| StoreError::Corrupt {
        table,
        reason: format!("timestamp {secs} out of range"),
    })
}

/// A label as stored (`label` and `category` columns), or a corrupt-row error naming why.
fn stored_label(kind: &str, category: Option<&str>) -> Result<crate::domain::Label, StoreError> {
    crate::domain::Label::from_parts(kind, category).map_err(|e| StoreError::Corrupt {
        table: "comments",
        reason: e.to_string(),
    })
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn a_new_database_and_its_wal_files_are_readable_by_their_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("triage.db");
        let store = Store::open(&path).await.unwrap();
        store
            .upsert_account(crate::domain::Platform::Youtube, "UC1", "mia_yt", "mia")
            .await
            .unwrap();
        assert_eq!(mode(&path), 0o600);
        for suffix in ["-wal", "-shm"] {
            let side = dir.path().join(format!("triage.db{suffix}"));
            assert!(side.exists(), "{suffix} exists while the store is open");
            assert_eq!(mode(&side), 0o600, "{suffix}");
        }
        store.close().await;
    }

    #[tokio::test]
    async fn an_existing_database_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("triage.db");
        Store::open(&path).await.unwrap().close().await;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        Store::open(&path).await.unwrap().close().await;
        assert_eq!(mode(&path), 0o640);
    }
}
