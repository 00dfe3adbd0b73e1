"""compare-lab's input, parsed by each task (Task.parse_text): text in the task's own words -> tokens, and a clear
message otherwise."""

from __future__ import annotations

import pytest

from compare.errors import UserError
from compare.tasks.copy import CopyTask
from compare.tasks.live_input import GENERATE
from compare.tasks.parity import ParityTask
from compare.tasks.qa import QATask

STORY = "mary drank water.\njohn went kitchen.\ncat ate apple.\nwho drank water?"


@pytest.fixture(scope="module")
def qa():
    return QATask(length=16)


def test_qa_story_becomes_the_tokens_training_lays_out(qa):
    live = qa.parse_text(STORY)
    words = "mary drank water . john went kitchen . cat ate apple . who drank water ?".split()
    assert live.tokens == [qa.words.index(w) for w in words]  # length 16 % 4 == 0: no fill tokens
    assert live.names == words
    assert live.expected == [qa.words.index("mary")]
    assert live.fact_span == (0, 3) and live.question_at == 12


def test_qa_fill_tokens_match_the_training_length():
    task = QATask(length=18)  # 18 % 4 == 2 fill tokens start every training story
    live = task.parse_text(STORY)
    assert live.names[:2] == ["·", "·"] and live.names[2:6] == ["mary", "drank", "water", "."]
    assert live.fact_span == (2, 5)


def test_qa_latest_fact_wins_and_what_questions(qa):
    live = qa.parse_text("mary drank water. dog drank water. what dog drank?")
    assert live.expected == [qa.words.index("water")]
    live = qa.parse_text("mary drank water. dog drank water. who drank water?")
    assert live.expected == [qa.words.index("dog")] and live.fact_span == (4, 7)


def test_qa_no_matching_fact_is_a_note_not_an_error(qa):
    live = qa.parse_text("mary drank water. who ate apple?")
    assert live.expected is None and "no sentence answers" in live.note


@pytest.mark.parametrize("text, words", [
    ("mary drank tea. who drank water?", ["'tea'", "knows only", "mary", "water"]),
    ("Mary drank water. Who drank coffee?", ["'coffee'"]),
    ("", ["story is empty"]),
    ("who drank water?", ["story is empty", "before the question"]),
    ("mary drank water.", ["no question"]),
    ("mary drank water. who drank water? john ate apple.", ["must be the last"]),
    ("mary water drank. who drank water?", ["sentence 1", "<agent> <verb> <object>"]),
    ("mary drank water. who mary drank?", ["question", "who <verb> <object>?"]),
    ("mary drank water. who drank water", ["does not end with"]),
])
def test_qa_bad_input_is_one_clear_line(qa, text, words):
    with pytest.raises(UserError) as e:
        qa.parse_text(text)
    message = str(e.value)
    assert "\n" not in message
    for w in words:
        assert w in message, message


def test_qa_question_type_the_model_never_saw():
    task = QATask(length=16, questions=["who"])
    with pytest.raises(UserError, match="trained only on 'who'"):
        task.parse_text("mary drank water. what mary drank?")


def test_vocabulary_is_read_from_the_task():
    task = QATask(length=16, agents=["ola", "kari"], verbs=["drakk", "spiste"], objects=["vann", "melk"], places=[],
                  place_prob=0.0)
    live = task.parse_text("ola drakk vann. kari spiste melk. who drakk vann?")
    assert live.expected == [task.words.index("ola")]
    with pytest.raises(UserError, match="'mary'"):
        task.parse_text("mary drakk vann. who drakk vann?")


def test_distractors_push_the_fact_back_without_changing_the_answer(qa):
    base = qa.parse_text(STORY)
    for k in (1, 5, 12):
        live = qa.parse_text(STORY, distractors=k)
        assert live.expected == base.expected and live.fact_span == base.fact_span
        assert live.question_at - live.fact_span[0] == base.question_at - base.fact_span[0] + 4 * k
        assert live.inserted == list(range(live.question_at - 4 * k, live.question_at))


@pytest.mark.parametrize("place_prob, kinds", [(1.0, {"went"}), (0.25, {"went", "fact"})])
def test_inserted_sentences_are_like_the_training_stories(place_prob, kinds):
    # qa's default trains on one fact among "<agent> went <place>" sentences: pushing the fact back must not
    # put other facts, which such a model never saw, in front of the question.
    task = QATask(length=16, place_prob=place_prob)
    live = task.parse_text(STORY, distractors=6)
    inserted = [live.names[i:i + 4] for i in live.inserted[::4]]
    assert {"went" if s[1] == "went" else "fact" for s in inserted} == kinds


def test_probe_round_trips_through_text(qa):
    tokens, _ = qa.probe()
    assert qa.parse_text(qa.example_text()).tokens == tokens[0].tolist()


def test_copy_and_parity_inputs():
    copy = CopyTask(length=4, vocab_size=16)
    live = copy.parse_text("3 1 4 15")
    assert live.tokens == [3, 1, 4, 15, copy.sep] and live.kind == GENERATE and live.expected == [3, 1, 4, 15]
    assert copy.format_tokens(live.tokens) == "3 1 4 15"
    with pytest.raises(UserError, match="'16' is not a symbol.*0 to 15"):
        copy.parse_text("3 16")
    with pytest.raises(UserError, match="nothing to copy"):
        copy.parse_text("  ")
    assert CopyTask(length=4, vocab_size=8).parse_text("3141").tokens == [3, 1, 4, 1, 8]

    parity = ParityTask(length=8)
    live = parity.parse_text("0110 111")
    assert live.tokens == [0, 1, 1, 0, 1, 1, 1] and live.expected == [1]
    with pytest.raises(UserError, match="'2' is not a bit"):
        parity.parse_text("0120")
    with pytest.raises(UserError, match="moving the fact back works on qa stories only"):
        parity.parse_text("01", distractors=2)


def test_babi_story(tmp_path):
    from compare.tasks.babi import BabiTask

    QATask(length=8).write_babi(tmp_path / "qa_who_drank_train.txt", 40)
    QATask(length=8).write_babi(tmp_path / "qa_who_drank_test.txt", 10, salt=1)
    task = BabiTask(path=str(tmp_path / "qa_who_drank_train.txt"), length=16, cache_dir=str(tmp_path / "cache"))
    story = "Mary drank water.\nJohn ate apple.\nwho drank water?"
    live = task.parse_text(story)
    assert live.names[-4:] == ["who", "drank", "water", "?"] and len(live.tokens) == 16  # left-padded as in training
    assert live.question_at == 12
    with pytest.raises(UserError, match="unknown word 'unicorn'"):
        task.parse_text("unicorn drank water. who drank water?")
    with pytest.raises(UserError, match="question ending in '\\?'"):
        task.parse_text("mary drank water.")
    assert task.parse_text(task.example_text()).tokens == task.probe()[0][0].tolist()


def test_text_is_read_as_bytes(tmp_path):
    from compare.tasks.text_lm import TextLMTask

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("def f(x):\n    return (x + 1)\n" * 20, encoding="utf-8")
    task = TextLMTask(length=16, files=[str(corpus)], cache_dir=str(tmp_path / "cache"))
    live = task.parse_text("return (x")
    assert live.tokens == list(b"return (x") and live.names[-2:] == ["(", "x"]
    assert task.format_tokens(live.tokens) == "return (x"
    with pytest.raises(UserError, match="the text is empty"):
        task.parse_text("")
