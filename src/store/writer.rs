//! Group commit of comment pages: the pages that concurrent walks hand in while the database is
//! busy are stored in one transaction instead of one each.
//!
//! A commit writes every b-tree page the transaction touched to the WAL (the table, five indexes,
//! the walk state): a transaction per page of 50 comments rewrites the same index pages again and
//! again, and costs the worker a round trip to SQLite's thread per statement of `BEGIN`/`COMMIT`.
//! A group of pages shares all of that. Each page keeps its own writes and walk progress, so a
//! crash between two commits still leaves every post at a page boundary: exactly-once holds as
//! with one transaction per page.
//!
//! Order: pages are written in the order they are handed in, so a walk's page N commits before
//! its page N+1 (whose cursor points past both). When a page cannot be stored, the pages of the
//! same walk handed in after it are refused rather than stored: storing them would move the
//! walk's cursor past the lost page.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::comments::{EncodedPage, write_page};
use super::{ClassifiedComment, PageWriteOutcome, PostKey, Store, StoreError, WalkProgress};

/// At most this many comments go into one group commit: a bound on how long the write lock is
/// held and on what one failure makes the group retry page by page.
const MAX_GROUP_COMMENTS: usize = 4_000;

/// Pages waiting for the writer, across all walks.
const QUEUE_PAGES: usize = 64;

/// Identifies one walk of one post: a failed page refuses the later pages of its walk only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WalkId {
    id: u64,
    /// The writer task the walk started under: a task started again after one died refuses the
    /// pages of walks that may have lost a page with it.
    generation: u64,
}

/// A page handed to the writer; await it for what it changed.
#[must_use = "a page's outcome says whether it was stored"]
pub struct PendingPage(oneshot::Receiver<Result<PageWriteOutcome, StoreError>>);

impl PendingPage {
    /// What storing the page changed, once its group has committed.
    ///
    /// # Errors
    /// The page was not stored: a database error, an earlier page of its walk failed, or the
    /// writer stopped.
    pub async fn stored(self) -> Result<PageWriteOutcome, StoreError> {
        self.0.await.unwrap_or(Err(StoreError::WriterStopped))
    }
}

struct PageJob {
    walk: WalkId,
    page: EncodedPage,
    done: oneshot::Sender<Result<PageWriteOutcome, StoreError>>,
}

/// Stores comment pages in group commits on a task of its own (started on first use, inside the
/// caller's runtime, and started again if it ever died). Cheap to share by reference; the task
/// ends when the writer is dropped and its queue is empty.
pub struct PageWriter {
    store: Store,
    queue: Mutex<Option<mpsc::Sender<PageJob>>>,
    next_walk: AtomicU64,
    generation: AtomicU64,
}

impl PageWriter {
    pub fn new(store: Store) -> PageWriter {
        PageWriter {
            store,
            queue: Mutex::new(None),
            next_walk: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        }
    }

    /// A new walk's identity, for [`PageWriter::queue`].
    pub fn start_walk(&self) -> WalkId {
        WalkId {
            id: self.next_walk.fetch_add(1, Ordering::Relaxed),
            generation: self.generation.load(Ordering::SeqCst),
        }
    }

    /// Hands a page in, encoded for the page query here on the caller's task rather than on the
    /// writer's; waits only while the writer's queue is full.
    pub async fn queue(
        &self,
        walk: WalkId,
        post: PostKey,
        comments: Vec<ClassifiedComment>,
        progress: WalkProgress,
        seen_at: DateTime<Utc>,
    ) -> PendingPage {
        let (done, stored) = oneshot::channel();
        let page = EncodedPage::new(post, &comments, progress, seen_at);
        // Freed now, not after a wait for room in a full queue.
        drop(comments);
        let job = PageJob { walk, page, done };
        let queue = {
            let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            match &*queue {
                Some(sender) if !sender.is_closed() => sender.clone(),
                // Not started yet, or its task died (a panic): a long-running worker must not
                // fail every page from then on. Walks begun under a dead task end with an error.
                started => {
                    if started.is_some() {
                        self.generation.fetch_add(1, Ordering::SeqCst);
                    }
                    let generation = self.generation.load(Ordering::SeqCst);
                    let (sender, receiver) = mpsc::channel(QUEUE_PAGES);
                    tokio::spawn(write_groups(self.store.clone(), receiver, generation));
                    queue.insert(sender).clone()
                }
            }
        };
        // A closed queue drops the job, and with it `done`: the page reports WriterStopped.
        let _ = queue.send(job).await;
        PendingPage(stored)
    }
}

/// The writer's loop: takes whatever pages are waiting (at least one) and stores them together.
async fn write_groups(store: Store, mut receiver: mpsc::Receiver<PageJob>, generation: u64) {
    let mut failed_walks: HashSet<WalkId> = HashSet::new();
    while let Some(first) = receiver.recv().await {
        let mut group = vec![first];
        let mut comments = group[0].page.len;
        while comments < MAX_GROUP_COMMENTS {
            let Ok(job) = receiver.try_recv() else { break };
            comments += job.page.len;
            group.push(job);
        }
        let group: Vec<PageJob> = group
            .into_iter()
            .filter_map(|job| {
                if failed_walks.contains(&job.walk) || job.walk.generation != generation {
                    let _ = job.done.send(Err(StoreError::EarlierPageFailed));
                    None
                } else {
                    Some(job)
                }
            })
            .collect();
        let span = tracing::debug_span!("group_commit", pages = group.len(), comments);
        match write_group(&store, &group).instrument(span).await {
            Ok(outcomes) => {
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    let _ = job.done.send(Ok(outcome));
                }
            }
            // Something in the group failed and nothing of it is stored: each page alone now, so
            // the failure is reported for the page that caused it and the others are stored.
            Err(error) => {
                tracing::warn!(%error, pages = group.len(), "a group commit failed; storing its pages one by one");
                for job in group {
                    let result = if failed_walks.contains(&job.walk) {
                        Err(StoreError::EarlierPageFailed)
                    } else {
                        store.save_encoded_page(&job.page).await
                    };
                    if result.is_err() {
                        failed_walks.insert(job.walk);
                    }
                    let _ = job.done.send(result);
                }
            }
        }
    }
}

async fn write_group(
    store: &Store,
    group: &[PageJob],
) -> Result<Vec<PageWriteOutcome>, StoreError> {
    if group.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = store.begin_write().await?;
    let mut outcomes = Vec::with_capacity(group.len());
    for job in group {
        outcomes.push(write_page(&mut tx, &job.page).await?);
    }
    tx.commit().await?;
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures::{comment, store_with_posts};

    /// Four pages handed in at once form one group; one of them cannot be stored (its post does
    /// not exist). The group is retried page by page: the other walk's pages are stored in order,
    /// the failed walk's later page is refused instead of moving its cursor past the lost one.
    #[tokio::test]
    async fn a_failed_page_refuses_the_rest_of_its_walk_and_spares_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let (store, posts) = store_with_posts(dir.path(), now, &["1801"]).await;
        let post = posts[0];
        let missing_post = PostKey(post.0 + 1_000);
        let writer = PageWriter::new(store.clone());
        let (good, bad) = (writer.start_walk(), writer.start_walk());
        let first = WalkProgress::Continue {
            after: "c1".into(),
            walk_newest: Some(now),
        };
        let done = WalkProgress::Complete {
            watermark: Some(now),
            read_every_page: false,
        };
        let good_1 = writer
            .queue(
                good,
                post,
                vec![comment("11", now), comment("12", now)],
                first.clone(),
                now,
            )
            .await;
        let bad_1 = writer
            .queue(bad, missing_post, vec![comment("21", now)], first, now)
            .await;
        let bad_2 = writer
            .queue(
                bad,
                missing_post,
                vec![comment("22", now)],
                done.clone(),
                now,
            )
            .await;
        let good_2 = writer
            .queue(
                good,
                post,
                vec![comment("12", now), comment("13", now)],
                done,
                now,
            )
            .await;

        assert_eq!(good_1.stored().await.unwrap().inserted, 2);
        assert!(matches!(bad_1.stored().await, Err(StoreError::Sql(_))));
        assert!(matches!(
            bad_2.stored().await,
            Err(StoreError::EarlierPageFailed)
        ));
        assert_eq!(
            good_2.stored().await.unwrap().inserted,
            1,
            "12 was stored already"
        );
        let state = store.walk_state(post).await.unwrap();
        assert_eq!(state.resume_after, None, "the last page completed the walk");
        assert_eq!(
            state.watermark.map(|w| w.timestamp()),
            Some(now.timestamp())
        );
        assert_eq!(
            store.post_schedules(&[post]).await.unwrap()[&post].found_since_settled,
            3
        );
        store.close().await;
    }
}
