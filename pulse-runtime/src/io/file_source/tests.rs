#[test]
fn base64_is_the_standard_alphabet_with_padding() {
    assert_eq!(super::base64(b""), "");
    assert_eq!(super::base64(b"f"), "Zg==");
    assert_eq!(super::base64(b"fo"), "Zm8=");
    assert_eq!(super::base64(b"foo"), "Zm9v");
    assert_eq!(super::base64(b"\xff\xfe\x00a"), "//4AYQ==");
}
