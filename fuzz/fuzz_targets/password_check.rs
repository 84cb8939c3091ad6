//! Policy checks on any string with any account: no panic, `check` agrees
//! with `violations`, zxcvbn sees a bounded prefix.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbxsec_core::Secret;
use pbxsec_password::strength::{ZXCVBN_MAX_CHARS, zxcvbn_view};
use pbxsec_password::{AccountInfo, PasswordPolicy, PolicyConfig};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\u{0}');
    let password = parts.next().unwrap_or_default();
    let ext = parts.next().unwrap_or_default();
    let name = parts.next().unwrap_or_default();
    let account = AccountInfo::new()
        .extension(ext)
        .user_name(name)
        .name(name, ext)
        .email(format!("{name}@example.com"))
        .phone_number(ext);
    let zx = PasswordPolicy::try_from(PolicyConfig {
        min_zxcvbn_score: Some(3),
        keyboard_rows: true,
        min_points: Some(120),
        ..PasswordPolicy::portsip().config().clone()
    })
    .expect("valid config");
    for policy in [
        PasswordPolicy::portsip(),
        PasswordPolicy::yeastar_user(),
        PasswordPolicy::vodia_high(),
        PasswordPolicy::nist_single_factor(),
        zx,
    ] {
        let v = policy.violations(password, &account);
        assert_eq!(v.is_empty(), policy.check(&Secret::new(password), &account).is_ok());
    }
    let view = zxcvbn_view(password);
    assert!(password.starts_with(view));
    assert!(view.chars().count() <= ZXCVBN_MAX_CHARS);
});
