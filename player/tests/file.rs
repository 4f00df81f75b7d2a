//! Movie files: save then load gives an identical movie; the `project` document is the same
//! document; bad files name the file and the field.

mod common;

use std::path::Path;

use stagelink_contracts::{Color, Command};
use stagelink_player::{demo, file};
use stagelink_publisher::SnapshotProvider;

#[test]
fn saving_then_loading_gives_an_identical_movie() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.json");
    let movie = demo::demo_movie();
    file::save(&movie, &path).unwrap();
    let loaded = file::load(&path).unwrap();
    assert!(
        loaded == movie,
        "the loaded movie differs from the saved one"
    );

    // Edited by commands (members, stage, styles, a span's end), it still round-trips.
    let mut engine = demo::demo_engine();
    engine.tick([
        Command::SetMemberProp {
            cast_lib: 1,
            member_num: 2,
            prop: "text".into(),
            value: "Édité ✓".into(),
        },
        Command::SetStageProp {
            prop: "bg_color".into(),
            value: Color::rgb(1, 2, 3).into(),
        },
        Command::SetMemberProp {
            cast_lib: 1,
            member_num: 1,
            prop: "width".into(),
            value: 64.into(),
        },
        Command::SetSpriteProp {
            sprite_num: 4,
            begin_frame: 1,
            prop: "end_frame".into(),
            value: 200.into(),
        },
    ]);
    for _ in 0..130 {
        engine.tick([]);
    }
    file::save(engine.movie(), &path).unwrap();
    assert!(file::load(&path).unwrap() == *engine.movie());
}

#[test]
fn the_project_request_returns_the_movie_document() {
    let mut engine = demo::demo_engine();
    engine.tick([]);
    let doc = engine.project();
    assert_eq!(doc["name"], "demo");
    assert_eq!(doc["frame_count"], 240);
    assert_eq!(doc["casts"].as_array().unwrap().len(), 2);
    assert_eq!(doc["casts"][0]["members"][0]["media"]["format"], "png");
    assert!(doc["score"]["sprites"].as_array().unwrap().len() >= 64);
    let text = serde_json::to_vec(&doc).unwrap();
    let rebuilt = file::parse(&text, Path::new("project")).unwrap();
    assert!(rebuilt == *engine.movie());
}

#[test]
fn a_loaded_movie_plays_like_the_original() {
    let original = demo::demo_movie();
    let text = serde_json::to_vec(&file::to_document(&original)).unwrap();
    let loaded = file::parse(&text, Path::new("copy.json")).unwrap();
    let mut a = stagelink_player::Engine::new(original);
    let mut b = stagelink_player::Engine::new(loaded);
    for _ in 0..300 {
        let (x, y) = (a.tick([]), b.tick([]));
        assert_eq!(x, y);
    }
}

fn error_for(edit: impl FnOnce(&mut serde_json::Value)) -> (String, String) {
    let mut doc = file::to_document(&demo::demo_movie());
    edit(&mut doc);
    let text = serde_json::to_vec(&doc).unwrap();
    let err = file::parse(&text, Path::new("broken.json")).unwrap_err();
    let shown = err.to_string();
    assert!(shown.starts_with("broken.json: "), "{shown}");
    (err.field().unwrap().to_owned(), shown)
}

#[test]
fn bad_files_name_the_path_and_the_field() {
    let (field, shown) = error_for(|d| d["score"]["sprites"][3]["blend"] = 300.into());
    assert_eq!(field, "score.sprites[3].blend", "{shown}");

    let (field, shown) = error_for(|d| d["score"]["sprites"][3]["blend"] = 101.into());
    assert_eq!(field, "score.sprites[3].blend", "{shown}");
    assert!(shown.contains("0..=100"), "{shown}");

    let (field, _) = error_for(|d| d["score"]["sprites"][2]["visible"] = "yes".into());
    assert_eq!(field, "score.sprites[2].visible");

    let (field, _) = error_for(|d| {
        d["casts"][0]["members"][1]["props"]["font_size"] = 0.into();
    });
    assert_eq!(field, "casts[0].members[1].props.font_size");

    let (field, _) = error_for(|d| d["casts"][1]["members"][0]["kind"] = "video".into());
    assert_eq!(field, "casts[1].members[0].kind");

    let (field, shown) = error_for(|d| {
        d["score"]["frame_scripts"][0]["code"] = "go to frame 1\njump around".into();
    });
    assert_eq!(field, "score.frame_scripts[0].code");
    assert!(shown.contains("line 2"), "{shown}");

    let (field, _) = error_for(|d| {
        d["score"]["sprites"][5]["member"] = serde_json::json!({"cast_lib": 2, "member_num": 99});
    });
    assert_eq!(field, "score.sprites[5].member");

    let (field, _) = error_for(|d| {
        d["score"]["sprites"][0]["keyframes"] =
            serde_json::json!([{"frame": 1, "prop": "glow", "value": 1}]);
    });
    assert_eq!(field, "score.sprites[0].keyframes[0].prop");

    let (field, _) = error_for(|d| d["score"]["sounds"][0]["frame"] = 999.into());
    assert_eq!(field, "score.sounds[0].frame");

    let (field, _) = error_for(|d| {
        d["casts"][0]["members"][0]["media"]["base64"] = "!!!".into();
    });
    assert_eq!(field, "casts[0].members[0].media.base64");

    let (field, _) = error_for(|d| {
        d.as_object_mut().unwrap().remove("tempo");
    });
    assert_eq!(field, "(document)");
}

#[test]
fn unreadable_and_malformed_files_say_which_file() {
    let err = file::load(Path::new("/nonexistent/movie.json")).unwrap_err();
    assert!(
        err.to_string().starts_with("/nonexistent/movie.json: "),
        "{err}"
    );
    let err = file::parse(b"{\"name\": ", Path::new("cut.json")).unwrap_err();
    assert!(err.to_string().starts_with("cut.json: "), "{err}");
}
