use std::io::Write;
use std::process::ExitCode;

use quicksight_emulator::cli::{self, Command, USAGE};
use quicksight_emulator::identity::Identities;
use quicksight_emulator::{control, Emulator, Server};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Serve(options)) => options,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("{problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    let identities = match options.identity_endpoint.clone() {
        Some(endpoint) => Identities::from_sts(endpoint),
        None => Identities::by_access_key(),
    };
    let emulator = Emulator::with_identities(options.region.clone(), identities);
    if let Some(path) = &options.jobs {
        let loaded = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))
            .and_then(|text| control::load_jobs(&emulator, &text));
        match loaded {
            Ok(count) => eprintln!("loaded {count} jobs from {}", path.display()),
            Err(problem) => {
                eprintln!("{problem}");
                return ExitCode::from(2);
            }
        }
    }

    let server = match Server::bind(&options.host, options.port).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!(
                "cannot listen on {}:{}: {error}",
                options.host, options.port
            );
            return ExitCode::FAILURE;
        }
    };
    let server = match (&options.tls_cert, &options.tls_key) {
        (Some(cert), Some(key)) => match server.with_tls(cert, key) {
            Ok(server) => server,
            Err(problem) => {
                eprintln!("{problem}");
                return ExitCode::from(2);
            }
        },
        _ => server,
    };
    let address = match server.local_addr() {
        Ok(address) => address,
        Err(error) => {
            eprintln!("cannot read the listening address: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Scripts wait for exactly this line to learn the port.
    let mut stdout = std::io::stdout();
    if writeln!(stdout, "listening on {}://{address}", server.scheme())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }

    server.run(emulator, termination()).await;
    eprintln!("shutting down");
    ExitCode::SUCCESS
}

async fn termination() {
    let interrupted = async {
        // Without a working Ctrl-C handler, only SIGTERM may end the server.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = terminate.recv() => {}
                () = interrupted => {}
            }
            return;
        }
    }
    interrupted.await;
}
