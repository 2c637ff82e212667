use std::process::ExitCode;

/// jemalloc rather than glibc's malloc: HTTP workers allocate what the journal writer and the
/// emitter free, and glibc's per-thread arenas, their locks and its fastbin consolidation took
/// ~12% of the CPU at 128 senders (BENCHMARKS.md). Large blocks (20 MB bodies) go back to the
/// OS when freed, after jemalloc's decay.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    tap_webhooks::logging::init();
    let result = tap_webhooks::cli::parse(std::env::args_os()).and_then(tap_webhooks::cli::execute);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tap_webhooks::logging::critical(&e);
            ExitCode::from(e.exit_code())
        }
    }
}
