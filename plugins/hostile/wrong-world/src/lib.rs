//! Hostile test plugin: a valid component, but of another world (`sluice:wrong/other`, which
//! exports only `foo: func() -> u32`, returning 42, and imports nothing of Sluice's). An
//! upload of it must be refused as not being a `sluice:plugin/message-filter` component.
//!
//! The component is only built for wasm32; natively this crate is empty.

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        inline: "
            package sluice:wrong@0.1.0;

            world other {
                export foo: func() -> u32;
            }
        ",
        world: "other",
    });

    struct Other;

    impl Guest for Other {
        fn foo() -> u32 {
            42
        }
    }

    export!(Other);
}
