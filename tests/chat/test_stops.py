from __future__ import annotations

from icchat.chat.stops import StopStringFilter

STOPS = ("\nUser:", "\nAssistant:")


def stream(pieces: list[str]) -> tuple[list[str], bool, str]:
    f = StopStringFilter(STOPS)
    out = [f.push(p) for p in pieces]
    return out, f.stopped, f.flush()


def test_a_marker_split_over_pieces_is_never_shown():
    out, stopped, rest = stream(["Hi there.", "\n", "Us", "er", ": what", " next"])
    assert out == ["Hi there.", "", "", "", "", ""] and stopped and "".join(out) + rest == "Hi there."


def test_held_text_that_turns_out_harmless_is_released():
    out, stopped, rest = stream(["a", "\nU", "ltimately", "\nAss"])
    assert "".join(out) == "a\nUltimately" and not stopped and rest == "\nAss"


def test_a_marker_inside_one_piece_cuts_there():
    out, stopped, _ = stream(["one\ntwo\nAssistant: three"])
    assert out == ["one\ntwo"] and stopped
