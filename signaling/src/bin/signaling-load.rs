fn main() {
    eprintln!("signaling-load: being written");
    std::process::exit(2)
}
