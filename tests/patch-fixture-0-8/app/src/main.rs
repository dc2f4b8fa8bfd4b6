//! `feed_app` of the workspace fixture: the program of ../../patch-fixture,
//! with its pipeline (`feed`) in the workspace library `pipes`, the crate the
//! patches edit. Each line of stdin is a `subsecond::JumpTable`; see
//! ../../patch-fixture/app/src/main.rs.

use pipes as feed;

include!("../../../patch-fixture/app/src/driver.rs");
