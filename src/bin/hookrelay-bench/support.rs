//! What every scenario leans on besides the processes it drives: the error
//! type of its steps, polling until a condition holds (`wait_until`), and
//! running many calls a few at a time (`concurrently`).
//!
//! A step fails for many reasons (Postgres, HTTP, a child process, an answer
//! it did not expect) and the bench only reports them, so one boxed error
//! serves them all. Waits poll from outside, through the receiver and the
//! database, because the bench sees hookrelay only as a user would.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Waits until `check` holds, polling; an error after `within`.
pub async fn wait_until<F, Fut>(what: &str, within: Duration, mut check: F) -> BenchResult<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = BenchResult<bool>>,
{
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err(format!("timed out waiting for {what}").into())
}

/// Runs `task(i)` for every `i` below `count`, `clients` at a time.
pub async fn concurrently<F, Fut>(count: usize, clients: usize, task: F) -> BenchResult<()>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = BenchResult<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let task = Arc::new(task);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (next, task) = (next.clone(), task.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<(), String>(());
                }
                task(i).await.map_err(|e| e.to_string())?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}
