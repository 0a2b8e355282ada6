//! `--json-output FILE`: the JSON lines of the live stream, written by the queued writer thread
//! ([`super::QueuedPrinter`]) into a file tracer creates itself and rotates by size and age
//! ([`crate::files::rotate`]), reopened on SIGHUP. A rotation only happens between two lines, after
//! every earlier line reached the old file, so the rotated files together hold each event
//! exactly once, in order.
use std::{io, path::Path};

use super::queued::Sink;
use crate::files::rotate::{Reopened, RotateError, RotatePolicy, RotatingFile};

/// The writer thread's end of the JSON file.
pub struct JsonFile {
    file: RotatingFile,
}

impl JsonFile {
    /// Creates FILE (rotating an existing one away first).
    pub fn create(path: &Path, policy: RotatePolicy) -> Result<Self, RotateError> {
        Ok(Self { file: RotatingFile::create(path, policy)? })
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        io::Write::write_all(&mut self.file, bytes)
            .map_err(|error| io::Error::new(error.kind(), format!("{}: {error}", self.file.path().display())))
    }

    /// A failed rotation is not fatal: lines keep going to the current file, and the rotation
    /// is tried again later.
    fn rotate(&mut self) {
        if let Err(error) = self.file.rotate() {
            log::warn!("{error}");
        }
    }
}

impl Sink for JsonFile {
    fn write_events(&mut self, bytes: &[u8], ends: &[u32]) -> io::Result<()> {
        // Lines from `written` on are not written yet; `start` is where the next line starts.
        let (mut written, mut start) = (0, 0);
        for &end in ends {
            let end = end as usize;
            if self.file.size_due((start - written) as u64, (end - start) as u64) {
                self.write_all(&bytes[written..start])?;
                written = start;
                self.rotate();
            }
            start = end;
        }
        self.write_all(&bytes[written..])?;
        self.idle()
    }

    /// Rotates a file that has reached its age (checked after every chunk, and every second
    /// when none comes).
    fn idle(&mut self) -> io::Result<()> {
        if self.file.age_due() {
            self.rotate();
        }
        Ok(())
    }

    /// After logrotate renamed FILE: lines handed over before the SIGHUP are already in it.
    fn reopen(&mut self) -> io::Result<()> {
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

#[cfg(test)]
mod tests {
    use std::{fs, time::Duration};

    use super::*;
    use crate::{
        event::{Detail, Event, test_event},
        output::{JsonPrinter, Printer, QueuedPrinter},
    };

    fn event(n: u32) -> Event {
        test_event(n, n, "w", Detail::exit(0, true, 1))
    }

    fn expected_line(n: u32) -> Vec<u8> {
        let mut line = Vec::new();
        JsonPrinter::new(&mut line).print(&event(n)).unwrap();
        line
    }

    fn queued(path: &Path, policy: RotatePolicy) -> QueuedPrinter {
        QueuedPrinter::spawn_sink(true, JsonFile::create(path, policy).unwrap(), 1 << 20, true).unwrap()
    }

    fn close(mut printer: QueuedPrinter) {
        printer.close().unwrap();
        assert!(printer.wait_written(Duration::from_secs(10)));
        assert_eq!(printer.unprinted(), 0);
    }

    #[test]
    fn lines_are_split_between_files_never_inside_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.json");
        let line_len = expected_line(1000).len() as u64;
        // Room for 2.5 lines per file.
        let policy = RotatePolicy { max_size: Some(line_len * 5 / 2), max_age: None, keep: 1000 };
        let mut printer = queued(&path, policy);
        for n in 1000..1100 {
            printer.print(&event(n)).unwrap();
            if n % 7 == 0 {
                printer.flush().unwrap();
            }
        }
        close(printer);
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
    fn reopen_writes_lines_handed_over_before_to_the_renamed_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.json");
        let mut printer = queued(&path, RotatePolicy::default());
        printer.print(&event(1)).unwrap();
        printer.flush().unwrap();
        // Renamed while the writer may not have written line 1 yet: it still goes to e.json.1.
        fs::rename(&path, dir.path().join("e.json.1")).unwrap();
        printer.print(&event(2)).unwrap();
        assert!(printer.reopens());
        printer.reopen().unwrap();
        printer.print(&event(3)).unwrap();
        close(printer);
        assert_eq!(fs::read(dir.path().join("e.json.1")).unwrap(), [expected_line(1), expected_line(2)].concat());
        assert_eq!(fs::read(&path).unwrap(), expected_line(3));
    }
}
