//! The `pulse` command; the logic lives in `pulse::cli::tool`.

fn main() {
    match pulse::cli::tool::main_from(std::env::args_os()) {
        Ok(out) => print!("{out}"),
        Err(e) => {
            eprintln!("Error: {e}");
            std::process::exit(e.exit_code());
        }
    }
}
