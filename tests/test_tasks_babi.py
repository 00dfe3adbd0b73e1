"""bAbI: the parser on the real files, malformed files, offline Hub names, length buckets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from compare.errors import UserError
from compare.tasks.babi import BabiTask, load_babi_file, read_babi_file, words
from compare.tasks.base import IGNORE

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

BABI = Path(__file__).resolve().parents[2] / "shared" / "data" / "babi"
needs_babi = pytest.mark.skipif(not (BABI / "en").is_dir(), reason="../shared/data/babi is not here")


@needs_babi
def test_qa1_train_has_1000_questions_in_200_stories(tmp_path):
    data = load_babi_file(BABI / "en" / "qa1_single-supporting-fact_train.txt", cache_dir=str(tmp_path))
    assert len(data) == 1000 and len(set(data["story"])) == 200
    first = data[0]
    assert first["context"] == ["Mary moved to the bathroom.", "John went to the hallway."]
    assert (first["question"], first["answer"], first["supporting"], first["line"]) == ("Where is Mary?", "bathroom", [1], 3)


@needs_babi
@pytest.mark.parametrize("path", sorted((BABI / "en").glob("qa*.txt")) + sorted((BABI / "en-10k").glob("qa*.txt")),
                         ids=lambda p: f"{p.parent.name}/{p.name[:3]}{'_test' if 'test' in p.name else '_train'}")
def test_supporting_facts_point_to_statements_of_the_same_story(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    for r in read_babi_file(str(path)):
        assert r["supporting"] and set(r["supporting"]) <= set(r["context_ids"])
        # Walk back from the question line in the raw file: every supporting id is a statement line of
        # this story (no story boundary in between, no tab = not a question).
        number = r["line"]
        own = {}
        for raw in reversed(lines[:number - 1]):
            line_id, text = raw.split(" ", 1)
            if "\t" not in text:
                own[int(line_id)] = text
            if line_id == "1":
                break
        assert all(s in own for s in r["supporting"])
        assert r["context"] == [own[i] for i in sorted(own)]


@needs_babi
def test_task_tokens_lengths_and_buckets(tmp_path):
    task = BabiTask(str(BABI / "en"), task_id=1, length=64, cache_dir=str(tmp_path))
    assert task.describe()["test_questions"] == 1000 and task.describe()["train_questions"] == 900
    assert {"mary", "bathroom", "where", "?", "."} <= set(task.token_names())
    x, y = task.sample(32, 64, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (32, 64)
    assert (y[:, :-1] == IGNORE).all() and (x[:, -1] == task.index["?"]).all()
    x2, _ = task.sample(32, 64, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)
    for length in (32, 64, 128):
        data = task.eval_set(length, 1000)
        count = (data.inputs != 0).sum(1)
        assert data.inputs.shape[1] == length and ((count > length // 2) & (count <= length)).all()
        assert set(data.slices) == {"support_distance"} and len(data.slices["support_distance"]) == len(count)
    assert len(task.eval_set(4, 10).inputs) == 0  # no story is that short: an empty bucket, not an error
    val = task.validation_set(1000)
    assert ((val.inputs != 0).sum(1) <= 64).all() and len(val.inputs) > 50


@needs_babi
def test_10k_training_set_and_a_single_file(tmp_path):
    task = BabiTask(str(BABI / "en"), task_id=2, train_set="10k", length=512, cache_dir=str(tmp_path))
    assert task.describe()["train_questions"] == 9000 and task.describe()["test_questions"] == 1000
    assert task.source["train"].endswith("en-10k/qa2_two-supporting-facts_train.txt")
    assert task.source["test"].endswith("en/qa2_two-supporting-facts_test.txt")
    single = BabiTask(str(BABI / "en" / "qa3_three-supporting-facts_train.txt"), length=2048, cache_dir=str(tmp_path))
    assert single.describe()["test_questions"] == 1000
    with pytest.raises(UserError, match="10k"):
        BabiTask(str(BABI / "en"), task_id=3, train_set="10k", cache_dir=str(tmp_path))
    with pytest.raises(UserError, match=r"task.length=4 is too short for bAbI: the question at .*qa3\S*_train.txt:\d+ alone"):
        BabiTask(str(BABI / "en"), task_id=3, length=4, cache_dir=str(tmp_path))


GOOD = "1 Mary went to the kitchen.\n2 Where is Mary? \tkitchen\t1\n"
MALFORMED = {
    "missing_tab": ("1 Mary went to the kitchen.\n2 John went home.\n3 Where is Mary? kitchen 1\n", 3, "tab"),
    "non_numeric_id": ("1 Mary went to the kitchen.\nx Where is Mary? \tkitchen\t1\n", 2, "not a number"),
    "empty": ("", 1, "no bAbI questions"),
    "bad_support": ("1 Mary went to the kitchen.\n2 Where is Mary? \tkitchen\t5\n", 2, "supporting ids"),
    "id_gap": ("1 Mary went to the kitchen.\n3 Where is Mary? \tkitchen\t1\n", 2, "does not follow"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_file_names_file_and_line_and_caches_nothing(tmp_path, name):
    text, line, what = MALFORMED[name]
    path = tmp_path / "data" / f"qa1_{name}_train.txt"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    cache = tmp_path / "cache"
    for _ in range(2):  # the second attempt fails the same way: nothing half-parsed was cached
        with pytest.raises(UserError, match=what) as err:
            load_babi_file(path, cache_dir=str(cache))
        assert f"{path.resolve()}:{line}:" in str(err.value)
    assert not list(cache.rglob("*.arrow"))
    path.write_text(GOOD, encoding="utf-8")  # fixed in place: the new version is read, not a cached one
    assert load_babi_file(path, cache_dir=str(cache))["answer"] == ["kitchen"]


def test_not_utf8_and_missing_file(tmp_path):
    path = tmp_path / "qa1_x_train.txt"
    path.write_bytes(GOOD.encode() + b"3 Caf\xe9 is open.\n")
    with pytest.raises(UserError, match=r"qa1_x_train.txt:3: not UTF-8"):
        load_babi_file(path, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(UserError, match=r"nothere.txt:0: no such bAbI file"):
        load_babi_file(tmp_path / "nothere.txt")
    with pytest.raises(UserError, match="no such file or folder"):
        BabiTask(str(tmp_path / "missing_dir"))


def test_hub_name_offline_says_so_and_how_to_pass_a_local_path():
    with pytest.raises(UserError) as err:
        BabiTask("facebook/babi_qa", task_id=1)
    message = str(err.value)
    assert "facebook/babi_qa" in message and "offline" in message.lower() and "task.path=" in message


# ---- bAbI as published: every question, stories cut to their most recent statements, seeded split ---------

QA3 = BABI / "en" / "qa3_three-supporting-facts_train.txt"


@needs_babi
def test_qa3_uses_all_900_training_questions_with_stories_cut_to_the_most_recent_statements(tmp_path):
    from compare.tasks.babi import split_stories

    task = BabiTask(str(BABI / "en"), task_id=3, cache_dir=str(tmp_path))  # the defaults: length 64, max_sentences 50
    settings = task.describe()
    assert settings["train_questions"] == 900 and settings["validation_questions"] == 100
    train, _ = split_stories(load_babi_file(QA3, cache_dir=str(tmp_path)).to_list(), 0.1, seed=0)
    lost = 0
    for row, record in zip(task.train["tokens"].tolist(), train):
        names = [task.words[t] for t in row if t != 0]
        # The kept statements are the most recent k that fit with the question; one more would not fit.
        sentences = [words(s) for s in record["context"]][-50:]
        k = next(k for k in range(len(sentences), -1, -1)
                 if sum(map(len, sentences[len(sentences) - k:])) + len(words(record["question"])) <= 64)
        assert names == [w for s in sentences[len(sentences) - k:] for w in s] + words(record["question"])
        lost += k < len(record["context"])
    assert settings["train_truncated_share"] == pytest.approx(lost / 900)
    assert 0.9 < settings["train_truncated_share"] < 1 and 0 < settings["train_support_lost_share"] < 0.5
    # Long enough for every story's supporting facts: none is lost, and the 50-statement memory still cuts.
    roomy = BabiTask(str(BABI / "en"), task_id=3, length=256, cache_dir=str(tmp_path)).describe()
    assert roomy["train_questions"] == 900 and roomy["train_support_lost_share"] == 0.0
    short_memory = BabiTask(str(QA3), length=2048, max_sentences=5, cache_dir=str(tmp_path))
    periods = (short_memory.train["tokens"] == short_memory.index["."]).sum(1)
    assert periods.max() == 5 and short_memory.describe()["train_truncated_share"] > 0.9


@needs_babi
def test_validation_split_is_seeded_and_holds_out_whole_stories(tmp_path):
    from compare.tasks.babi import split_stories

    records = load_babi_file(QA3, cache_dir=str(tmp_path)).to_list()
    train, valid = split_stories(records, 0.1, seed=0)
    again_train, again_valid = split_stories(records, 0.1, seed=0)
    assert [r["line"] for r in valid] == [r["line"] for r in again_valid] and len(valid) == 100
    assert not {r["story"] for r in train} & {r["story"] for r in valid}  # no story prefix on both sides
    _, other = split_stories(records, 0.1, seed=1)
    assert {r["story"] for r in other} != {r["story"] for r in valid}
    a = BabiTask(str(QA3), cache_dir=str(tmp_path)).validation_set(1000)
    b = BabiTask(str(QA3), cache_dir=str(tmp_path)).validation_set(1000)
    assert len(a.inputs) == 100 and torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)


def test_crlf_files_parse_like_lf_files(tmp_path):
    lf = tmp_path / "lf" / "qa1_x_train.txt"
    crlf = tmp_path / "crlf" / "qa1_x_train.txt"
    text = "1 Mary went to the kitchen.\n2 John went home.\n3 Where is Mary? \tkitchen\t1\n"
    for path, data in ((lf, text), (crlf, text.replace("\n", "\r\n"))):
        path.parent.mkdir()
        path.write_bytes(data.encode())
    a, b = (load_babi_file(p, cache_dir=str(tmp_path / "cache")).to_list() for p in (lf, crlf))
    assert a == b and b[0]["answer"] == "kitchen" and b[0]["context"][-1] == "John went home."


@pytest.mark.parametrize("name, data, line, what", [
    ("latin1", "1 Mary went to the café.\n2 Where is Mary? \tcafé\t1\n".encode("latin-1"), 1, "not UTF-8"),
    ("support_past_story", b"1 Mary went to the kitchen.\n2 John went home.\n3 Where is Mary? \tkitchen\t7\n", 3,
     r"supporting ids \[7\] are not statements earlier in this story \(its statements so far: 1..2\)"),
])
def test_bad_babi_files_give_one_line_naming_file_and_line(tmp_path, name, data, line, what):
    path = tmp_path / f"qa1_{name}_train.txt"
    path.write_bytes(data)
    with pytest.raises(UserError, match=what) as err:
        load_babi_file(path, cache_dir=str(tmp_path / "cache"))
    message = str(err.value)
    assert message.startswith(f"{path.resolve()}:{line}: ") and "\n" not in message


# ---- what makes the lookup pay: a fresh renaming per draw, every question of a story scored in place ---------

@needs_babi
def test_renaming_is_one_bijection_per_row_over_people_and_places_answer_included(tmp_path):
    plain = BabiTask(str(BABI / "en"), task_id=1, length=64, cache_dir=str(tmp_path))
    renamed = BabiTask(str(BABI / "en"), task_id=1, length=64, rename=True, cache_dir=str(tmp_path))
    assert renamed.entities == {"people": ["daniel", "john", "mary", "sandra"],
                                "places": ["bathroom", "bedroom", "garden", "hallway", "kitchen", "office"],
                                "objects": []}
    x, y = plain.sample(256, 64, torch.Generator().manual_seed(3))
    rx, ry = renamed.sample(256, 64, torch.Generator().manual_seed(3))  # the same questions, then renamed
    classes = {renamed.index[w]: c for c, group in renamed.entities.items() for w in group}
    moved = 0
    for row, rrow, answer, ranswer in zip(x.tolist(), rx.tolist(), y[:, -1].tolist(), ry[:, -1].tolist()):
        mapping = {}
        for a, b in zip(row + [answer], rrow + [ranswer]):
            assert mapping.setdefault(a, b) == b  # one word is always renamed to the same word
            assert classes.get(a) == classes.get(b) and (a in classes or a == b)
        assert len(set(mapping.values())) == len(mapping)  # a bijection: two words never merge
        moved += any(a != b for a, b in mapping.items())
    assert moved > 240  # almost every row is renamed (the identity is 1 of 4! x 6! renamings)
    assert (ry[:, :-1] == IGNORE).all()
    # Only training is renamed: validation and test stay the real stories.
    assert torch.equal(renamed.validation_set(100).inputs, plain.validation_set(100).inputs)
    two = BabiTask(str(BABI / "en"), task_id=2, length=96, rename=True, cache_dir=str(tmp_path)).entities
    assert two["objects"] == ["apple", "football", "milk"] and "kitchen" in two["places"]


@needs_babi
def test_every_question_of_a_story_is_scored_at_its_own_position_with_only_its_own_past(tmp_path):
    from compare.models import RecurrentLM, TransformerLM

    task = BabiTask(str(BABI / "en"), task_id=1, length=160, story_questions="all", cache_dir=str(tmp_path))
    last = BabiTask(str(BABI / "en"), task_id=1, length=160, cache_dir=str(tmp_path))
    assert task.describe()["train_truncated_share"] == 0.0  # qa1 stories fit 160 tokens whole
    qmark, rows = task.index["?"], task.train
    x, y = task._batch(rows, torch.arange(len(rows["count"])), 160, every_question=True)
    story_of = [r for r in split_records(task, tmp_path)]
    for i in range(len(story_of)):
        asked = (x[i] == qmark).nonzero()[:, 0]
        scored = (y[i] != IGNORE).nonzero()[:, 0]
        assert torch.equal(asked, scored)  # every question of the row, and only questions, is scored
        earlier = [j for j in range(i + 1) if story_of[j]["story"] == story_of[i]["story"]]
        assert len(asked) == len(earlier)
        for k, j in zip(asked.tolist(), earlier):
            # Its own answer at its own '?', after exactly the story the record of that question holds.
            assert y[i, k] == task.index[story_of[j]["answer"]]
            own = rows["tokens"][j]
            n = int((own != 0).sum())
            assert torch.equal(x[i, k + 1 - n:k + 1], own[-n:])
        # Without the earlier questions it is the MemN2N input: the statements, then the question.
        lines, line = [], []
        for t in (t for t in x[i].tolist() if t != 0):
            line.append(t)
            if t in (qmark, task.index["."]):
                lines.append(line)
                line = []
        statements = [t for ln in lines[:-1] if ln[-1] != qmark for t in ln] + lines[-1]
        assert statements == [t for t in last.train["tokens"][i].tolist() if t != 0]
    # Validation and test score the last question only, each question once.
    val = task.validation_set(1000)
    assert ((val.targets != IGNORE).sum(1) == 1).all() and (val.targets[:, -1] != IGNORE).all()
    # A later question or its story never reaches an earlier answer: change everything after the first '?'.
    row = x[[i for i in range(len(story_of)) if int((x[i] == qmark).sum()) == 5][0]]
    first = int((row == qmark).nonzero()[0])
    changed = row.clone()
    changed[first + 1:] = torch.randint(2, task.num_tokens, (160 - first - 1,), generator=torch.Generator().manual_seed(0))
    for model in (TransformerLM(task.num_tokens, 2, 4, d_model=32), RecurrentLM(task.num_tokens, "lstm", hidden_size=32)):
        with torch.no_grad():
            a, b = model(torch.stack([row, changed]))
        assert torch.allclose(a[:first + 1], b[:first + 1], atol=1e-6) and not torch.allclose(a[-1], b[-1])


@needs_babi
def test_an_earlier_question_whose_support_the_cut_dropped_is_not_scored(tmp_path):
    task = BabiTask(str(BABI / "en"), task_id=1, length=48, story_questions="all", cache_dir=str(tmp_path))
    x, y = task._batch(task.train, torch.arange(len(task.train["count"])), 48, every_question=True)
    names, skipped = task.token_names(), 0
    for row, target in zip(x.tolist(), y.tolist()):
        words_ = [names[t] for t in row]
        for p, w in enumerate(words_[:-1]):
            if w != "?":
                continue
            # qa1's rule, read off the window: "where is X ?" is answered by the latest sentence about X before it.
            person = words_[p - 1]
            sentences = " ".join(words_[:p - 3]).replace("·", "").replace("?", ".").split(".")
            about = [s.split() for s in sentences if s.split() and s.split()[0] == person]
            if target[p] == IGNORE:
                skipped += 1
                assert not about  # unscored only when the window no longer holds its supporting statement
            else:
                assert about and names[target[p]] == about[-1][-1]
    assert skipped > 100


def split_records(task: BabiTask, tmp_path) -> list[dict]:
    """The training records of ``task`` in the order its rows hold them (the seeded split's training side)."""
    from compare.tasks.babi import local_files, split_stories

    train_file, _ = local_files(BABI / "en", task.task_id, task.train_set)
    records = load_babi_file(train_file, cache_dir=str(tmp_path)).to_list()
    return split_stories(records, task.validation_fraction, task.seed)[0]


@needs_babi
def test_bad_story_questions_names_the_choices(tmp_path):
    with pytest.raises(UserError, match=r"task.story_questions='some' is not accepted; choose one of \['last', 'all'\]"):
        BabiTask(str(BABI / "en"), task_id=1, story_questions="some", cache_dir=str(tmp_path))
