#!/usr/bin/env python3
"""A complete supportbot session from Python: a bot made from an FAQ file, a user chatting with
it (the replies streamed), then what the bot's owner sees: sessions, history, a summary and the
analytics.

    SUPPORTBOT_LIBRARY=build/libsupportbot.so.2 PYTHONPATH=bindings/python \
        python3 examples/python/chat_demo.py --faqs faqs.json

Options: --faqs FILE (JSON or CSV; default faqs.json), --database URL (default: a SQLite file in
a temporary folder), --provider offline|gemini|openai (with --base-url, --model; the API key from
$GEMINI_API_KEY or $OPENAI_API_KEY). Questions to ask may follow; without any, a few are asked.
"""

import argparse
import os
import secrets
import sys
import tempfile

import supportbot

QUESTIONS = [
    "where is my package?",
    "and how long does a refund take?",
    "I want to talk to a human",
    "are you still there?",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faqs", default="faqs.json")
    ap.add_argument("--database")
    ap.add_argument("--provider", default="offline")
    ap.add_argument("--base-url")
    ap.add_argument("--model")
    ap.add_argument("--threshold", type=float, help="the answer threshold (default: calibrated)")
    ap.add_argument("questions", nargs="*")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        database = args.database or f"sqlite://{os.path.join(tmp, 'demo.db')}"
        api_key = os.environ.get("GEMINI_API_KEY" if args.provider == "gemini"
                                 else "OPENAI_API_KEY")
        options = {}
        if args.threshold is not None:
            options["answer_threshold"] = args.threshold
        with supportbot.Engine(database, secrets.token_urlsafe(32), args.provider,
                               llm_base_url=args.base_url, llm_model=args.model,
                               llm_api_key=api_key, **options) as engine:
            # The owner: an admin account, and a bot answering from the FAQ file.
            password = "Demo-" + secrets.token_urlsafe(12)
            engine.register_admin("owner@example.com", password)
            admin = engine.principal(engine.login_admin("owner@example.com", password))
            try:
                bot_id = engine.create_bot(admin, "Demo shop", args.faqs)
            except supportbot.Error as e:  # e.g. InvalidData, with e.place
                print(f"cannot load {args.faqs}: {e}", file=sys.stderr)
                return 1
            bot = engine.bot(admin, bot_id)
            print(f"bot {bot.name!r}: {bot.faq_count} FAQs (library {supportbot.library_version()})")

            # A customer: a user account of that bot, chatting in one session.
            engine.register_user(bot_id, "ann@example.com", password)
            user = engine.principal(engine.login_user(bot_id, "ann@example.com", password))
            session_id = None
            for question in args.questions or QUESTIONS:
                print(f"\n> {question}\n< ", end="", flush=True)
                stream = engine.chat_stream(user, bot_id, question, session_id)
                for piece in stream:
                    print(piece, end="", flush=True)
                reply = stream.reply
                print()
                if reply.fallback:
                    print(f"  (the LLM failed; the offline answer instead)\n  {reply.text}")
                session_id = reply.session_id
                if reply.sources:
                    print(f"  source: {reply.sources[0].id} "
                          f"(confidence {reply.sources[0].confidence:.2f})")
                if reply.escalated:
                    print(f"  handed to a human: {reply.escalation_reason}")
                if reply.suggestions:
                    print("  you may also ask: " + " | ".join(reply.suggestions))

            # The owner's view.
            print()
            for s in engine.iter_sessions(admin, bot_id, page_size=20):
                print(f"session {s.id}: {s.status}, {s.message_count} messages, "
                      f"first: {s.first_message!r}")
            for m in engine.history(admin, session_id):
                print(f"  [{m.role}] {m.text[:70]}")
            summary = engine.summarize(admin, session_id)
            print(f"summary: {summary['summary']}")
            print(f"resolved: {summary['resolved']}, sentiment: {summary['sentiment']}")
            stats = engine.analytics(admin, bot_id)
            print(f"analytics: {stats['sessions']} session(s), escalation rate "
                  f"{stats['escalation']['rate']:.2f}, deflection {stats['deflection']['rate']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
