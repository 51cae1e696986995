//! The keys family.

use crate::table::CommandSpec;

/// Table rows of this family.
pub const COMMANDS: &[CommandSpec] = &[];
