fn main() {
    println!("inkread");
}
