//! `--json-output FILE`: the JSON lines of the live stream, written to a file tracer creates
//! itself and rotates by size and age ([`crate::rotate`]), reopened on SIGHUP. A rotation only
//! happens between two lines, after every earlier line reached the old file, so the rotated
//! files together hold each event exactly once, in order.
use std::io::{self, Write};

use crate::{
    event::Event,
    output::{JsonPrinter, Printer},
    rotate::{Reopened, RotateError, RotatePolicy, RotatingFile},
};

/// Lines are written out once this many bytes are buffered (and at every flush).
const BUFFER_BYTES: usize = 64 * 1024;

pub struct JsonFile {
    file: RotatingFile,
    buf: Vec<u8>,
    line: Vec<u8>,
}

impl JsonFile {
    /// Creates FILE (rotating an existing one away first).
    pub fn create(path: &std::path::Path, policy: RotatePolicy) -> Result<Self, RotateError> {
        Ok(Self {
            file: RotatingFile::create(path, policy)?,
            buf: Vec::with_capacity(BUFFER_BYTES + 4096),
            line: Vec::with_capacity(1024),
        })
    }

    fn write_out(&mut self) -> io::Result<()> {
        let result = self.file.write_all(&self.buf);
        self.buf.clear();
        result.map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", self.file.path().display())))
    }

    /// Rotates after writing out what belongs to the current file. A failed rotation is not
    /// fatal: lines keep going to the current file, and the rotation is tried again later.
    fn rotate(&mut self) -> io::Result<()> {
        self.write_out()?;
        if let Err(error) = self.file.rotate() {
            log::warn!("{error}");
        }
        Ok(())
    }
}

impl Printer for JsonFile {
    fn print(&mut self, event: &Event) -> io::Result<()> {
        self.line.clear();
        JsonPrinter::new(&mut self.line).print(event)?;
        if self.file.size_due(self.buf.len() as u64, self.line.len() as u64) {
            self.rotate()?;
        }
        self.buf.extend_from_slice(&self.line);
        if self.buf.len() >= BUFFER_BYTES { self.write_out() } else { Ok(()) }
    }

    /// Writes the buffered lines out, then rotates a file that has reached its age (flushes
    /// come after every batch and every 50 ms, so age is checked often enough).
    fn flush(&mut self) -> io::Result<()> {
        self.write_out()?;
        if self.file.age_due() {
            self.rotate()?;
        }
        Ok(())
    }

    fn reopens(&self) -> bool {
        true
    }

    /// After logrotate renamed FILE: lines buffered so far still belong to the renamed file.
    fn reopen(&mut self) -> io::Result<()> {
        self.write_out()?;
        match self.file.reopen() {
            Ok(Reopened::New) => log::info!("reopened {}", self.file.path().display()),
            Ok(Reopened::Unchanged) => {
                log::info!("{} was not renamed: still writing to it", self.file.path().display())
            }
            Err(error) => log::warn!("{error}"),
        }
        Ok(())
    }
}

impl Drop for JsonFile {
    fn drop(&mut self) {
        let _ = self.write_out();
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::event::{Detail, Source};

    fn event(n: u32) -> Event {
        Event {
            timestamp_ns: 1_700_000_000_000_000_000 + u64::from(n),
            cpu: 0,
            tgid: n,
            tid: n,
            ppid: 1,
            comm: "w".into(),
            source: Source::TpBtf,
            detail: Detail::Exit { status: 0, group_dead: true, lifetime_ns: 1 },
        }
    }

    fn expected_line(n: u32) -> Vec<u8> {
        let mut line = Vec::new();
        JsonPrinter::new(&mut line).print(&event(n)).unwrap();
        line
    }

    #[test]
    fn lines_are_split_between_files_never_inside_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.json");
        let line_len = expected_line(1000).len() as u64;
        // Room for 2.5 lines per file.
        let policy = RotatePolicy { max_size: Some(line_len * 5 / 2), max_age: None, keep: 1000 };
        let mut file = JsonFile::create(&path, policy).unwrap();
        for n in 1000..1100 {
            file.print(&event(n)).unwrap();
            if n % 7 == 0 {
                file.flush().unwrap();
            }
        }
        drop(file);
        let mut joined = Vec::new();
        for index in (1..=49).rev() {
            let rotated = fs::read(dir.path().join(format!("e.json.{index}"))).unwrap();
            assert_eq!(rotated.len() as u64, line_len * 2, "e.json.{index} holds two whole lines");
            joined.extend(rotated);
        }
        joined.extend(fs::read(&path).unwrap());
        assert!(fs::metadata(dir.path().join("e.json.50")).is_err());
        let expected: Vec<u8> = (1000..1100).flat_map(expected_line).collect();
        assert_eq!(String::from_utf8(joined).unwrap(), String::from_utf8(expected).unwrap());
    }

    #[test]
    fn reopen_writes_buffered_lines_to_the_renamed_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.json");
        let mut file = JsonFile::create(&path, RotatePolicy::default()).unwrap();
        file.print(&event(1)).unwrap();
        fs::rename(&path, dir.path().join("e.json.1")).unwrap();
        file.print(&event(2)).unwrap();
        assert!(file.reopens());
        file.reopen().unwrap();
        file.print(&event(3)).unwrap();
        file.flush().unwrap();
        assert_eq!(fs::read(dir.path().join("e.json.1")).unwrap(), [expected_line(1), expected_line(2)].concat());
        assert_eq!(fs::read(&path).unwrap(), expected_line(3));
    }
}
