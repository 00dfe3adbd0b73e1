"""Property tests for the synthetic task generators, over a grid of settings."""

from __future__ import annotations

import math
import re

import pytest
import torch

from compare.errors import UserError
from compare.tasks.assoc_recall import AssocRecallTask
from compare.tasks.base import IGNORE
from compare.tasks.copy_memory import CopyMemoryTask
from compare.tasks.parity import ParityTask
from compare.tasks.qa import DOT, FILL, QMARK, SENTENCE, WENT, WHO, QATask
from compare.tasks.selective_copy import SelectiveCopyTask


def batch(task, length, size=64, seed=0):
    return task.sample(size, length, torch.Generator().manual_seed(seed))


def check_common(task, length):
    """Exact length, same seed -> same batch, other seed -> other batch, fixed validation set."""
    x, y = batch(task, length)
    assert x.shape == y.shape == (64, task.sequence_length(length))
    assert x.dtype == y.dtype == torch.long
    assert x.min() >= 0 and x.max() < task.num_tokens
    scored = y[y != IGNORE]
    assert scored.numel() > 0 and scored.min() >= 0 and scored.max() < task.num_tokens
    x2, y2 = batch(task, length)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x3, _ = batch(task, length, seed=1)
    assert not torch.equal(x, x3)
    v1, v2 = task.validation_set(16), task.validation_set(16)
    assert torch.equal(v1.inputs, v2.inputs) and torch.equal(v1.targets, v2.targets)
    return x, y


# ---- qa ---------------------------------------------------------------------------------------------

def solve_story(words: list[str]) -> tuple[str, int]:
    """Reference reader on the decoded words: the latest sentence matching the question answers it."""
    story, question = words[:-SENTENCE], words[-SENTENCE:]
    sentences = [s for s in (" ".join(story).replace("·", "").split(".")) if s.strip()]
    answer, where = None, -1
    for i, s in enumerate(sentences):
        a, v, o = s.split()
        if question[0] == "who" and (v, o) == (question[1], question[2]):
            answer, where = a, i
        if question[0] == "what" and (a, v) == (question[1], question[2]):
            answer, where = o, i
    return answer, len(sentences) - where


@pytest.mark.parametrize("length", [4, 7, 16, 33, 64])
@pytest.mark.parametrize("position", ["random", "start", "end", "distance"])
@pytest.mark.parametrize("distractors,overwrite,places", [(0, 0.0, 1.0), (0, 0.0, 0.25), (3, 0.5, 1.0), (10, 1.0, 0.25)])
def test_qa_answer_is_determined_by_the_story(length, position, distractors, overwrite, places):
    task = QATask(length=length, fact_position=position, fact_distance=2, num_distractors=distractors,
                  overwrite_prob=overwrite, place_prob=places)
    x, y = check_common(task, length)
    names = task.token_names()
    # Scored: the final position only, with a word of the answer classes; filler only at the start.
    assert (y[:, :-1] == IGNORE).all() and (y[:, -1] != IGNORE).all()
    assert (x[:, : length % SENTENCE] == FILL).all() and (x[:, length % SENTENCE:] != FILL).all()
    assert (x[:, -1] == QMARK).all() and (x[:, length - 1] == DOT).all()
    f = length // SENTENCE
    for row, target in zip(x.tolist(), y[:, -1].tolist()):
        words = [names[t] for t in row]
        answer, distance = solve_story(words)
        assert answer == names[target], " ".join(words)
        # The answer word is not in the question.
        assert names[target] not in words[-SENTENCE:]
        expected = {"start": f, "end": 1, "distance": min(f, 3)}.get(position)
        if expected is not None:
            assert distance == expected, " ".join(words)
    # The second axis equals the distance the reference reader finds (power-of-two bins of tokens).
    keys = task.eval_slices(x, y, length)["fact_distance"]
    for key, row in zip(keys.tolist(), x.tolist()):
        tokens = SENTENCE * solve_story([names[t] for t in row])[1]
        assert key <= tokens < 2 * key


def test_qa_distractors_share_words_and_overwrites_happen():
    task = QATask(length=40, num_distractors=3, overwrite_prob=1.0, fact_position="end", place_prob=0.0)
    x, y = batch(task, 40, size=256)
    names = task.token_names()
    for row, target in zip(x.tolist(), y[:, -1].tolist()):
        sentences = [row[i:i + 3] for i in range(0, 40, SENTENCE)]
        q = row[-SENTENCE:]
        key = (q[1], q[2])
        # The deciding fact is last; an earlier fact has the same key words and another answer (overwritten).
        same_key = [s for s in sentences if ((s[1], s[2]) if q[0] == WHO else (s[0], s[1])) == key]
        assert len(same_key) == 2 and same_key[0] != same_key[1]
        shared = [s for s in sentences[:-1] if s not in same_key and (set(s) & {*key, target})]
        assert len(shared) >= 3, [names[t] for t in row]


def test_qa_default_story_holds_one_fact_among_place_sentences():
    # The seed's question: every sentence but the deciding fact is "<agent> went <place> .".
    task = QATask(length=64)
    x, y = batch(task, 64)
    verbs = x[:, 1:64:SENTENCE]
    assert ((verbs != WENT).sum(1) == 1).all()
    names = task.token_names()
    for row, target in zip(x.tolist(), y[:, -1].tolist()):
        words = [names[t] for t in row]
        assert solve_story(words)[0] == names[target]
        fact = next(i for i in range(0, 64, SENTENCE) if words[i + 1] != "went")
        assert names[target] in (words[fact], words[fact + 2])


def test_qa_place_sentences_and_bad_settings():
    task = QATask(length=64, place_prob=0.25)
    x, y = batch(task, 64)
    went = (x[:, 1:64:SENTENCE] == WENT).float().mean()
    assert 0.1 < went < 0.4  # a quarter noise sentences, the rest facts that do not match the question
    for bad in (dict(length=3), dict(fact_position="middle"), dict(questions=["why"]), dict(agents=["a"]),
                dict(overwrite_prob=2.0), dict(verbs=["drank", "cat"])):
        with pytest.raises(UserError):
            QATask(**bad)


def test_qa_stories_round_trip_through_babi_format(tmp_path):
    from compare.tasks.babi import parse_babi_lines, read_babi_file, words

    task = QATask(length=26)
    x, y = batch(task, 26, size=50)
    names = task.token_names()
    text = task.to_babi(x, y, 26)
    records = list(parse_babi_lines(enumerate(text.splitlines(), 1), "generated"))
    assert len(records) == 50
    for r, row, target in zip(records, x.tolist(), y[:, -1].tolist()):
        # The same tokens the model reads (filler dropped), the same answer, support = the deciding fact.
        assert [w for s in [*r["context"], r["question"]] for w in words(s)] == [names[t] for t in row if t != FILL]
        assert r["answer"] == names[target]
        assert len(r["supporting"]) == 1 and r["supporting"][0] in r["context_ids"]
        a, v, o = r["context"][r["supporting"][0] - 1].rstrip(".").split()
        assert names[target] in (a, o)
    path = task.write_babi(tmp_path / "qa_train.txt", size=20)
    assert len(list(read_babi_file(str(path)))) == 20


# ---- selective copy / copy memory / assoc recall / parity ------------------------------------------

@pytest.mark.parametrize("length,marked", [(1, 1), (8, 3), (32, 4), (100, 16)])
def test_selective_copy_copies_the_data_tokens_in_order(length, marked):
    task = SelectiveCopyTask(length=length, num_marked=marked, vocab_size=8)
    x, y = check_common(task, length)
    assert ((y != IGNORE).sum(1) == marked).all() and (y[:, :length] == IGNORE).all()
    region = x[:, :length]
    for r, t, full in zip(region, y[:, length:], x):
        assert torch.equal(r[r != task.noise], t)  # the marked tokens, in order
        # After SEP the model sees only the symbols it has already been scored on (teacher forcing).
        assert full[length] == task.sep and torch.equal(full[length + 1:], t[:-1])
    assert task.supports(marked) and not task.supports(marked - 1)
    with pytest.raises(UserError):
        SelectiveCopyTask(length=3, num_marked=4)


@pytest.mark.parametrize("gap", [1, 5, 50])
@pytest.mark.parametrize("symbols,alphabet", [(10, 8), (3, 2)])
def test_copy_memory_recalls_the_first_symbols_after_the_gap(gap, symbols, alphabet):
    task = CopyMemoryTask(length=gap, num_symbols=symbols, alphabet=alphabet)
    x, y = check_common(task, gap)
    assert x.shape[1] == gap + 2 * symbols
    scored = y != IGNORE
    assert scored[:, -symbols:].all() and not scored[:, :-symbols].any()
    assert torch.equal(y[:, -symbols:], x[:, :symbols])
    rest = x[:, symbols:]
    assert ((rest == task.blank) | (rest == task.delim)).all()  # nothing after the symbols repeats them
    assert (x[:, gap + symbols - 1] == task.delim).all() and ((rest == task.delim).sum(1) == 1).all()
    assert task.baseline_loss(gap) == pytest.approx(symbols * math.log(alphabet) / (gap + 2 * symbols))


def test_copy_memory_classic_baseline():
    assert CopyMemoryTask(length=100).baseline_loss(100) == pytest.approx(10 * math.log(8) / 120)


@pytest.mark.parametrize("pairs,queries,max_gap", [(1, 4, 0), (8, 4, 16), (30, 8, 3)])
def test_assoc_recall_answers_are_the_bound_values(pairs, queries, max_gap):
    task = AssocRecallTask(length=pairs, num_queries=queries, num_keys=32, num_values=8, max_gap=max_gap)
    x, y = check_common(task, pairs)
    q = min(queries, pairs)
    assert (y[:, :-q] == IGNORE).all() and (y[:, -q:] != IGNORE).all()
    gaps = []
    for row, target in zip(x.tolist(), y.tolist()):
        start = next(i for i, t in enumerate(row) if t != task.noise)
        body = row[start:start + 2 * pairs]
        keys, values = body[0::2], body[1::2]
        assert len(set(keys)) == pairs and all(k < task.num_keys for k in keys)
        assert all(task.num_keys <= v < task.noise for v in values)
        table = dict(zip(keys, values))
        for k, v in zip(row[-q:], target[-q:]):
            assert table[k] == v
        # Between the pairs and the queries only noise: no value is shown again.
        assert set(row[start + 2 * pairs:len(row) - q]) <= {task.noise}
        gaps.append(len(row) - q - start - 2 * pairs)
    keys = task.eval_slices(x, y, pairs)["gap"].tolist()
    for key, gap in zip(keys, gaps):
        assert (key == 0) if gap == 0 else key <= gap < 2 * key
    assert task.supports(32) and not task.supports(33)
    with pytest.raises(UserError):
        task.sample(2, 33, torch.Generator())


@pytest.mark.parametrize("pairs,vocab,seq_len", [(1, 8, 16), (4, 512, 64), (8, 4096, 128), (16, 64, 32)])
def test_mqar_asks_every_key_once_after_the_pairs_as_zoology_does(pairs, vocab, seq_len):
    task = AssocRecallTask(length=pairs, num_queries=None, num_keys=vocab, num_values=vocab, placement="power_law",
                           seq_len=seq_len)
    x, y = check_common(task, pairs)
    assert x.shape[1] == max(seq_len, 4 * pairs) and task.label == "mqar"
    assert x.max() < task.noise  # Zoology's form fills with random vocabulary tokens, never the noise token
    for row, target in zip(x.tolist(), y.tolist()):
        keys, values = row[0:2 * pairs:2], row[1:2 * pairs:2]
        assert len(set(keys)) == pairs and len(set(values)) == pairs
        assert all(k < vocab for k in keys) and all(vocab <= v < 2 * vocab for v in values)
        table = dict(zip(keys, values))
        asked = [i for i, t in enumerate(target) if t != IGNORE]
        # Every key once, each at the start of its own 2-token slot after the pairs, scored with its value.
        assert sorted(row[i] for i in asked) == sorted(keys)
        assert all(i >= 2 * pairs and (i - 2 * pairs) % 2 == 0 for i in asked)
        assert all(table[row[i]] == target[i] for i in asked)


def test_mqar_without_random_non_queries_fills_the_gaps_with_the_noise_token():
    """Zoology's Figure 2 configs (random_non_queries=False): between the queries only the noise token."""
    task = AssocRecallTask(length=4, num_queries=None, num_keys=64, num_values=64, placement="power_law", seq_len=64,
                           random_non_queries=False)
    x, y = check_common(task, 4)
    region, scored = x[:, 8:], (y != IGNORE)[:, 8:]
    assert (region[~scored] == task.noise).all() and (region[scored] < 64).all()
    assert scored.sum(1).eq(4).all() and task.describe()["random_non_queries"] is False
    noisy = AssocRecallTask(length=4, num_queries=None, num_keys=64, num_values=64, placement="power_law", seq_len=64)
    assert (batch(noisy, 4)[0][:, 8:] != noisy.noise).all()


def test_mqar_queries_fall_off_with_distance_as_a_power_law():
    def slot_counts(power_a):
        task = AssocRecallTask(length=2, num_queries=None, num_keys=64, num_values=64, placement="power_law",
                               seq_len=84, power_a=power_a)  # 40 slots after the pairs
        _, y = batch(task, 2, size=4000)
        slots = ((y != IGNORE).nonzero()[:, 1] - 4) // 2
        return torch.bincount(slots, minlength=40).double()

    zoology, uniform = slot_counts(0.01), slot_counts(1.0)
    # p(s) ~ s^-0.99 for slots s = 1..40, two draws without replacement: the first slot about 10x the 10th.
    assert zoology[0] > 6 * zoology[9] > 0 and zoology[:4].sum() > zoology[20:].sum()
    assert uniform.max() < 1.5 * uniform.min()  # power_a = 1: every slot alike


@pytest.mark.parametrize("kwargs,word", [({"placement": "random"}, "task.placement='random'"),
                                         ({"placement": "power_law", "num_queries": 4}, "task.num_queries=4"),
                                         ({"placement": "power_law", "num_queries": None, "num_values": 2},
                                          "task.num_values >= 4"),
                                         ({"power_a": 0.0}, "task.power_a=0.0")])
def test_mqar_bad_settings_name_the_key(kwargs, word):
    with pytest.raises(UserError, match=re.escape(word)):
        AssocRecallTask(length=4, **kwargs)


@pytest.mark.parametrize("length", [1, 5, 64])
@pytest.mark.parametrize("scored", ["all", "last"])
def test_parity_targets_are_the_running_parity(length, scored):
    task = ParityTask(length=length, scored=scored)
    x, y = check_common(task, length)
    parity = x.sum(1) % 2
    assert torch.equal(y[:, -1], parity)
    if scored == "all":
        assert torch.equal(y, x.cumsum(1) % 2)
    else:
        assert (y[:, :-1] == IGNORE).all()
    with pytest.raises(UserError):
        ParityTask(scored="first")


@pytest.mark.parametrize("questions", [["who"], ["what"], ["who", "what"]])
def test_qa_with_one_verb_is_the_seeds_question_and_stays_unambiguous(questions):
    # "who drank water ?" with drank the only verb: the object alone picks the fact.
    task = QATask(length=40, verbs=["drank"], questions=questions, num_distractors=3, overwrite_prob=0.5)
    x, y = batch(task, 40, size=256)
    names = task.token_names()
    for row, target in zip(x.tolist(), y[:, -1].tolist()):
        assert solve_story([names[t] for t in row])[0] == names[target]


def test_qa_defaults_are_the_plain_question():
    task = QATask()
    assert (task.num_distractors, task.overwrite_prob) == (0, 0.0)
    with pytest.raises(UserError, match="task.verbs needs at least 1"):
        QATask(verbs=[])


def test_qa_words_have_one_home_and_the_command_line_replaces_them(make_cfg):
    from compare.config.build import build
    from compare.tasks.qa import AGENTS, OBJECTS, PLACES, VERBS

    task = build(make_cfg(["task=qa"]).task)  # conf/task/qa.yaml leaves the words to the task
    assert (task.agents, task.verbs, task.objects, task.places) == tuple(map(list, (AGENTS, VERBS, OBJECTS, PLACES)))
    task = build(make_cfg(["task=qa", "task.verbs=[drank]", "task.places=[]", "task.place_prob=0"]).task)
    assert task.verbs == ["drank"] and task.places == [] and task.agents == list(AGENTS)
