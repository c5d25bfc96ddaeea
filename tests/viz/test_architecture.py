"""lessons_lib.viz.architecture: the Transformer figure every lesson opens with."""

import itertools

import matplotlib.pyplot as plt
import pytest

from lessons_lib.viz.architecture import (
    BOXES,
    GROUPS,
    LIMITS,
    STACKS,
    draw_transformer,
    resolve_highlight,
    transformer_layout,
)

RED = (0.8392156862745098, 0.15294117647058825, 0.1568627450980392, 1.0)  # the highlight edge


def _patches_by_name(ax):
    found = {}
    for artist in [*ax.patches, *ax.lines]:
        if artist.get_gid():
            found.setdefault(artist.get_gid(), []).append(artist)
    return found


def _lit(patch) -> bool:
    return patch.get_edgecolor() == RED and patch.get_linewidth() >= 3.0


def test_every_named_box_is_drawn_once_and_nothing_else_carries_a_name():
    ax = draw_transformer()
    found = _patches_by_name(ax)
    assert set(found) == set(BOXES), "each name in BOXES is drawn, and only those"
    assert all(len(artists) == 1 for artists in found.values()), {n: len(a) for n, a in found.items()}
    assert not any(_lit(patch) for patch in ax.patches), "nothing is highlighted by default"


def test_groups_name_only_boxes():
    for group, members in GROUPS.items():
        assert group not in BOXES, f"the group {group!r} shadows a box"
        assert set(members) <= set(BOXES), group


def test_highlight_lights_exactly_the_named_boxes_and_fades_the_rest():
    ax = draw_transformer(highlight=["add & norm", "cross-attention"])
    found = _patches_by_name(ax)
    wanted = set(GROUPS["add & norm"]) | {"cross-attention"}
    for name, (artist,) in found.items():
        if name == "memory":
            continue
        assert _lit(artist) == (name in wanted), name
        assert artist.get_alpha() == (1.0 if name in wanted else 0.35), name


def test_a_highlighted_stack_keeps_its_own_boxes_unfaded():
    ax = draw_transformer(highlight="encoder")
    found = _patches_by_name(ax)
    assert _lit(found["encoder"][0])
    for name in STACKS["encoder"]:
        assert found[name][0].get_alpha() == 1.0 and not _lit(found[name][0]), name
    assert found["cross-attention"][0].get_alpha() == 0.35, "the decoder's boxes fade"
    assert set(STACKS["decoder"]) >= {"cross-attention", "decoder feed-forward", "decoder add & norm 3"}


def test_the_memory_arrow_can_be_highlighted():
    (line,) = _patches_by_name(draw_transformer(highlight="memory"))["memory"]
    assert line.get_color() == "#d62728" and line.get_linewidth() > 2


def test_resolve_highlight_takes_one_name_many_names_groups_or_none():
    assert resolve_highlight(None) == set() and resolve_highlight([]) == set()
    assert resolve_highlight("softmax") == {"softmax"}
    assert resolve_highlight(("positional encoding", "linear")) == {
        "encoder positional encoding", "decoder positional encoding", "linear"}
    with pytest.raises(ValueError, match="unknown box 'attension'.*the groups"):
        resolve_highlight(["attention", "attension"])


def test_boxes_lie_inside_the_figure_and_do_not_overlap_except_inside_their_stack():
    layout = transformer_layout()
    assert set(layout) == set(BOXES) - {"memory"}
    x_min, x_max, y_min, y_max = LIMITS
    for name, (left, bottom, width, height) in layout.items():
        assert x_min <= left and left + width <= x_max and y_min <= bottom and bottom + height <= y_max, name

    def overlap(a, b):
        (ax, ay, aw, ah), (bx, by, bw, bh) = layout[a], layout[b]
        return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah

    stacks = {"encoder", "decoder"}
    for a, b in itertools.combinations(sorted(set(layout) - stacks), 2):
        assert not overlap(a, b), (a, b)
    for stack in stacks:
        for name in STACKS[stack]:
            left, bottom, width, height = layout[name]
            s_left, s_bottom, s_width, s_height = layout[stack]
            assert s_left < left and left + width < s_left + s_width, (stack, name)
            assert s_bottom < bottom and bottom + height < s_bottom + s_height, (stack, name)


def test_draws_on_a_given_axes_with_a_title_and_romanizes_korean_without_a_font(monkeypatch):
    fig, ax = plt.subplots()
    assert draw_transformer(ax=ax, title="Lesson 05") is ax and ax.get_title() == "Lesson 05"
    monkeypatch.setattr("lessons_lib.viz.architecture.korean_font", lambda: None)
    texts = [text.get_text() for text in draw_transformer(target="<sos> 나는").texts]
    assert "outputs, shifted right: <sos> naneun" in texts
    texts = [text.get_text() for text in draw_transformer(source="the teacher reads a book").texts]
    assert "inputs: the teacher reads a book" in texts


def test_with_the_korean_font_in_use_the_figure_draws_without_font_warnings(caplog, recwarn):
    import matplotlib

    from lessons_lib.hangul import korean_font, use_korean_font

    if korean_font() is None:
        pytest.skip("no Korean font here, not even the packaged one")
    with matplotlib.rc_context():
        use_korean_font()
        ax = draw_transformer(highlight=["attention", "encoder", "memory"])
        ax.figure.canvas.draw()
    assert not [r for r in caplog.records if "findfont" in r.getMessage()], [r.getMessage() for r in caplog.records]
    assert not [w for w in recwarn if "missing from font" in str(w.message)]
