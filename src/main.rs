use std::process::ExitCode;

fn main() -> ExitCode {
    tap_webhooks::commands::return_large_buffers_to_the_os();
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
