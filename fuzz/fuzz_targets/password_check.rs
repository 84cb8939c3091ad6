//! Policy checks on any string with any account: no panic, `check` agrees
//! with `violations`, zxcvbn sees a bounded prefix.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbxsec_core::Secret;
use pbxsec_password::strength::{ZXCVBN_MAX_CHARS, zxcvbn_view};
use pbxsec_password::{AccountInfo, PasswordPolicy, PolicyConfig};
use std::sync::OnceLock;

/// The policies under test, built once (building one warms zxcvbn up).
/// The NIST presets are left out: their blocklist lookup is the `passwords`
/// crate's, which with debug assertions (as fuzz builds have) scans its 1 MB
/// list linearly, and under sanitizer coverage that drops the target to one
/// run per second. The property tests cover those presets.
fn policies() -> &'static [PasswordPolicy] {
    static POLICIES: OnceLock<Vec<PasswordPolicy>> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let zx = PasswordPolicy::try_from(PolicyConfig {
            min_zxcvbn_score: Some(3),
            keyboard_rows: true,
            min_points: Some(120),
            ..PasswordPolicy::portsip().config().clone()
        })
        .expect("valid config");
        vec![
            PasswordPolicy::portsip(),
            PasswordPolicy::yeastar_user(),
            PasswordPolicy::vodia_high(),
            zx,
        ]
    })
}

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
    for policy in policies() {
        let v = policy.violations(password, &account);
        assert_eq!(v.is_empty(), policy.check(&Secret::new(password), &account).is_ok());
    }
    let view = zxcvbn_view(password);
    assert!(password.starts_with(view));
    assert!(view.chars().count() <= ZXCVBN_MAX_CHARS);
});
