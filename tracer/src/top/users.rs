//! User names for the view's USER column, read once from `/etc/passwd` (a live view on this
//! machine); a replay, possibly from another machine, shows numbers.
use std::collections::HashMap;

use crate::text::escape;

#[derive(Clone, Debug, Default)]
pub struct Users {
    names: HashMap<u32, String>,
}

impl Users {
    /// The local accounts; none when `/etc/passwd` cannot be read (numbers are shown then).
    pub fn local() -> Self {
        std::fs::read("/etc/passwd").map(|text| Self::parse(&String::from_utf8_lossy(&text))).unwrap_or_default()
    }

    /// `name:password:uid:…` lines; the first name given to a UID wins, as `getpwuid` does.
    pub fn parse(passwd: &str) -> Self {
        let mut names = HashMap::new();
        for line in passwd.lines() {
            let mut fields = line.split(':');
            let (Some(name), Some(_), Some(uid)) = (fields.next(), fields.next(), fields.next()) else { continue };
            if let Ok(uid) = uid.parse::<u32>()
                && !name.is_empty()
            {
                names.entry(uid).or_insert_with(|| escape(name).into_owned());
            }
        }
        Users { names }
    }

    /// The name of `uid`, or the number.
    pub fn name(&self, uid: u32) -> String {
        self.names.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_passwd_lines_and_numbers_stand_in() {
        let users = Users::parse(
            "root:x:0:0:root:/root:/bin/sh\nbad line\nalice:x:1000:1000::/home/a:/bin/sh\nalias:x:0:0::/:/bin/sh\nevil\x1b]0;t:x:7:7::/:\n",
        );
        assert_eq!(users.name(0), "root");
        assert_eq!(users.name(1000), "alice");
        assert_eq!(users.name(4242), "4242");
        assert_eq!(users.name(7), "evil\\x1b]0;t");
    }
}
