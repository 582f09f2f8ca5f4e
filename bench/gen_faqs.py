#!/usr/bin/env python3
"""Generate a large synthetic customer-support FAQ set and a labelled query file.

Standard library only, fixed seed, deterministic: the same arguments always give byte-identical
files.

Output (in the project's evaluation format, like ../../shared/data/<set>/):
  <out>/faqs.json   JSON array of {id, question, answer, category, alternates}
  <out>/dev.jsonl   one {"query": ..., "expected_id": ...} per line; expected_id is null for a
                    question that no FAQ covers (the bot should escalate it)

How it works: an entry is an *intent* (e.g. "return a product") applied to *slot values* (a
product such as "Nordvik K-340 espresso machine", a country, a payment method, ...). Every
intent has several phrasing templates. An entry's question uses one template and its alternates
one or two others; a query about an entry uses, when the intent has one, a template that the entry
does NOT use (a held-out paraphrase), and is then perturbed: lower-cased, punctuation dropped,
a typo in a word, clauses reordered, filler words dropped or added. So top-1 accuracy on the
query file measures real retrieval, not string lookup.

Usage: gen_faqs.py [--entries 100000] [--queries 2000] [--oos 100] [--seed 20240611] --out DIR
"""

import argparse
import json
import os
import random
import sys

# ---- Vocabulary ---------------------------------------------------------------------------------

BRANDS = [
    "Nordvik", "Acme", "Lumina", "Brightway", "Kestrel", "Orion", "Velora", "Tandem", "Harbor",
    "Quill", "Summit", "Pinecrest", "Atlas", "Solace", "Corvid", "Maple", "Zephyr", "Ironwood",
    "Bluefin", "Cobalt", "Juniper", "Meridian", "Nimbus", "Oakley", "Pellucid", "Redwood",
    "Saffron", "Tessera", "Umbra", "Vantage", "Willow", "Xeno", "Yarrow", "Zenith", "Aurora",
    "Beacon", "Cascade", "Driftwood", "Ember", "Fathom",
]
PRODUCT_TYPES = [
    "espresso machine", "blender", "air fryer", "robot vacuum", "electric kettle", "toaster",
    "standing desk", "office chair", "wireless earbuds", "noise cancelling headphones",
    "bluetooth speaker", "smart watch", "fitness tracker", "laptop", "tablet", "e-reader",
    "smart thermostat", "video doorbell", "security camera", "wifi router", "mesh extender",
    "electric toothbrush", "hair dryer", "beard trimmer", "rice cooker", "slow cooker",
    "stand mixer", "food processor", "water filter", "air purifier", "dehumidifier",
    "space heater", "ceiling fan", "led desk lamp", "gaming mouse", "mechanical keyboard",
    "usb-c hub", "portable charger", "dash cam", "e-bike", "electric scooter", "treadmill",
    "yoga mat", "hiking backpack", "camping tent", "sleeping bag", "running shoes",
    "winter jacket", "suitcase", "baby monitor", "stroller", "car seat", "pet feeder",
    "smart lock", "projector", "soundbar", "drone", "action camera", "sewing machine",
    "pressure washer",
]
MODEL_PREFIXES = ["K", "X", "S", "Pro", "Max", "Air", "Neo", "Lite", "Z", "GT", "M", "One"]
COUNTRIES = [
    "Canada", "Mexico", "the United Kingdom", "Ireland", "France", "Germany", "Spain", "Italy",
    "Portugal", "the Netherlands", "Belgium", "Sweden", "Norway", "Denmark", "Finland", "Poland",
    "Austria", "Switzerland", "Japan", "South Korea", "Australia", "New Zealand", "Brazil",
    "Chile", "Argentina", "India", "Singapore", "Israel", "South Africa", "Iceland",
]
CARRIERS = ["UPS", "FedEx", "DHL", "USPS", "Royal Mail", "Canada Post", "DPD", "GLS", "Purolator",
            "Australia Post"]
PAYMENT_METHODS = [
    "PayPal", "Apple Pay", "Google Pay", "a Visa card", "a Mastercard", "American Express",
    "a debit card", "a gift card", "store credit", "Klarna", "Afterpay", "a bank transfer",
    "cryptocurrency", "a prepaid card", "cash on delivery",
]
PLANS = ["Basic", "Plus", "Premium", "Family", "Student", "Business", "Enterprise", "Annual",
         "Monthly", "Starter"]
SUBSCRIPTIONS = ["coffee bean", "filter refill", "razor blade", "pet food", "meal kit",
                 "vitamin", "printer ink", "contact lens", "cleaning supply", "snack box"]
STORES = [
    "Springfield", "Riverside", "Lakeside", "Fairview", "Greenville", "Madison", "Georgetown",
    "Franklin", "Clinton", "Salem", "Bristol", "Oxford", "Ashland", "Burlington", "Dover",
    "Milton", "Newport", "Kingston", "Hudson", "Arlington", "Chester", "Dayton", "Jackson",
    "Marion", "Auburn", "Winchester", "Clayton", "Lexington", "Manchester", "Plymouth",
]
DEVICES = ["iPhone", "Android phone", "iPad", "Windows laptop", "Mac", "Chromebook",
           "smart TV", "Kindle", "Linux desktop", "Apple Watch"]
BROWSERS = ["Chrome", "Firefox", "Safari", "Edge", "Opera", "Brave"]
ISSUES = [
    "won't turn on", "keeps disconnecting", "is making a loud noise", "is overheating",
    "won't charge", "shows an error light", "stopped working", "has a cracked screen",
    "won't pair", "is leaking", "smells like burning", "keeps restarting", "is too slow",
    "won't update", "lost its settings",
]
PARTS = ["battery", "charging cable", "power adapter", "remote control", "filter", "lid",
         "replacement blade", "carrying case", "wall mount", "user manual", "strap", "cushion",
         "nozzle", "brush head", "screen protector"]
DAYS = ["Sunday", "Christmas Day", "New Year's Day", "Thanksgiving", "Easter Monday",
        "Labor Day", "Memorial Day", "Boxing Day", "Independence Day", "Black Friday"]

# ---- Intents: (category, slot kinds, question templates, answer template) ------------------------
# Templates use {p} product, {c} country, {k} carrier, {m} payment method, {l} plan,
# {s} subscription, {t} store, {d} device, {b} browser, {i} issue, {q} part, {y} day.

INTENTS = [
    ("returns", "p", [
        "How do I return my {p}?",
        "What is the return process for the {p}?",
        "Can I send back a {p} I bought?",
        "I want to return the {p} I ordered, what do I do?",
    ], "To return your {p}, open Orders, choose the order and select Return item. Print the prepaid label, pack the {p} with all accessories and drop it at any carrier location within 30 days of delivery."),
    ("returns", "p", [
        "How long do I have to return a {p}?",
        "What is the return window for the {p}?",
        "Is there a deadline to return my {p}?",
        "Until when can I return a {p}?",
    ], "The {p} can be returned within 30 days of delivery, or 60 days for members. Opened items must include all original parts and packaging."),
    ("returns", "p", [
        "When will I get my refund for the {p}?",
        "How long does a refund take for a returned {p}?",
        "I returned my {p}, where is my money?",
        "Refund for the {p} has not arrived yet",
    ], "Refunds for a returned {p} are issued within 5 business days after the warehouse receives it. Your bank may need another 3 to 7 days to show the credit."),
    ("warranty", "p", [
        "What does the warranty cover on the {p}?",
        "Is the {p} covered by a warranty?",
        "How long is the warranty for my {p}?",
        "Does my {p} come with a guarantee?",
    ], "The {p} carries a two-year limited warranty covering manufacturing defects. Accidental damage and normal wear are not covered; an extended protection plan is available at checkout."),
    ("warranty", "p", [
        "How do I make a warranty claim for my {p}?",
        "My {p} broke, can I get it repaired under warranty?",
        "Where do I file a warranty claim on the {p}?",
        "Can I get my {p} replaced under warranty?",
    ], "Start a warranty claim for the {p} from the Support page with your order number and a short video of the fault. We repair or replace the unit within 10 business days."),
    ("product", "pi", [
        "My {p} {i}, what should I do?",
        "What do I do when the {p} {i}?",
        "Help, the {p} {i}",
        "Troubleshooting: {p} {i}",
    ], "If your {p} {i}, unplug it for one minute, check the power source and reset it to factory settings. If the problem persists, contact support with the serial number so we can arrange a repair."),
    ("product", "p", [
        "How do I reset my {p} to factory settings?",
        "What is the way to factory reset the {p}?",
        "Can I restore the {p} to its default settings?",
        "Reset instructions for the {p}",
    ], "To factory reset the {p}, hold the power button for 15 seconds until the light blinks twice. All custom settings will be erased."),
    ("product", "p", [
        "How do I update the firmware on my {p}?",
        "Is there a software update for the {p}?",
        "How can I install the latest firmware for the {p}?",
        "Where do I get firmware updates for my {p}?",
    ], "Firmware for the {p} updates automatically through the companion app. To update manually, open the app, select the {p} and tap Check for updates."),
    ("product", "pq", [
        "Where can I buy a replacement {q} for the {p}?",
        "Do you sell a spare {q} for my {p}?",
        "I need a new {q} for the {p}",
        "How do I order another {q} for my {p}?",
    ], "A replacement {q} for the {p} is sold in the Parts and accessories section of our store. Search for your model number to make sure the {q} fits."),
    ("product", "p", [
        "Is the {p} in stock?",
        "When will the {p} be available again?",
        "The {p} is sold out, when is it back?",
        "Can I get notified when the {p} is restocked?",
    ], "Availability of the {p} is shown on its product page. Tap Notify me to get an email as soon as the {p} is back in stock."),
    ("product", "pp", [
        "What is the difference between the {p} and the {p2}?",
        "Should I buy the {p} or the {p2}?",
        "Compare the {p} with the {p2}",
        "Which is better, the {p} or the {p2}?",
    ], "The {p} and the {p2} differ in size, power and included accessories. See the comparison table on either product page for full specifications."),
    ("product", "pd", [
        "Does the {p} work with my {d}?",
        "Is the {p} compatible with a {d}?",
        "Can I connect the {p} to my {d}?",
        "How do I set up the {p} with a {d}?",
    ], "The {p} works with a {d} through the companion app. Install the app, turn on Bluetooth and follow the pairing steps shown on screen."),
    ("shipping", "pc", [
        "Do you ship the {p} to {c}?",
        "Can I order a {p} for delivery in {c}?",
        "Is shipping of the {p} available to {c}?",
        "Will you deliver a {p} to an address in {c}?",
    ], "Yes, we ship the {p} to {c}. Import duties and taxes are shown at checkout, and delivery usually takes 7 to 14 business days."),
    ("shipping", "c", [
        "How long does shipping to {c} take?",
        "What are the delivery times for {c}?",
        "When will my order arrive in {c}?",
        "Estimated delivery time to {c}",
    ], "Standard shipping to {c} takes 7 to 14 business days and express shipping 3 to 5. You get a tracking link by email when the parcel leaves our warehouse."),
    ("shipping", "c", [
        "How much does shipping to {c} cost?",
        "What are the shipping fees for {c}?",
        "Is there free shipping to {c}?",
        "Shipping price for orders to {c}",
    ], "Shipping to {c} is free on orders over 100 dollars. Below that, standard shipping costs 9.99 and express shipping 24.99."),
    ("shipping", "k", [
        "How do I track a package sent with {k}?",
        "Where can I see the tracking for my {k} delivery?",
        "My order ships with {k}, how do I follow it?",
        "Tracking number from {k} does not work",
    ], "Parcels sent with {k} can be tracked from the link in your shipping email or on the {k} website. Tracking may take 24 hours to show the first scan."),
    ("shipping", "k", [
        "{k} says my package was delivered but I did not get it",
        "My {k} parcel is marked delivered but it is missing",
        "What do I do if {k} lost my package?",
        "Package shows delivered by {k} but never arrived",
    ], "If {k} marks a parcel delivered but you cannot find it, check with neighbours and your building office, then wait 48 hours. If it is still missing, contact us and we will open a claim with {k}."),
    ("orders", "p", [
        "Can I cancel my order for the {p}?",
        "How do I cancel the {p} I just ordered?",
        "I ordered a {p} by mistake, can I cancel it?",
        "Cancel order for {p}",
    ], "An order for the {p} can be cancelled from Orders until it ships. After that, refuse the delivery or return the {p} for a full refund."),
    ("orders", "p", [
        "Can I change the delivery address for my {p} order?",
        "How do I update the shipping address on my {p} order?",
        "I entered the wrong address for the {p}, can I fix it?",
        "Change address after ordering a {p}",
    ], "You can change the address of a {p} order from Orders as long as it has not shipped. Once it has shipped, ask the carrier to redirect the parcel."),
    ("orders", "p", [
        "My {p} arrived damaged, what should I do?",
        "The {p} I received is broken",
        "I got a damaged {p} in the mail",
        "What to do when the {p} is delivered broken?",
    ], "Sorry that your {p} arrived damaged. Send us photos of the box and the {p} within 7 days and we will ship a replacement at no cost."),
    ("orders", "p", [
        "I received the wrong item instead of the {p}",
        "You sent me something else instead of my {p}",
        "My package did not contain the {p} I ordered",
        "Wrong product delivered, I ordered a {p}",
    ], "If you received another item instead of the {p}, report it from Orders with a photo of the label. We send the {p} right away and a prepaid label for the wrong item."),
    ("billing", "m", [
        "Can I pay with {m}?",
        "Do you accept {m}?",
        "Is {m} an accepted payment method?",
        "How do I check out using {m}?",
    ], "We accept {m} at checkout in most countries. Select it in the Payment step; the amount is charged when your order ships."),
    ("billing", "m", [
        "My payment with {m} was declined",
        "Why was my {m} payment rejected?",
        "Checkout fails when I pay with {m}",
        "Payment error using {m}",
    ], "A declined payment with {m} is usually caused by a billing address mismatch or a limit set by the provider. Check the details, or contact the provider of {m} and try again."),
    ("billing", "m", [
        "I was charged twice with {m}",
        "Why do I see a double charge on my {m}?",
        "Duplicate charge on {m} for one order",
        "Refund a duplicate {m} payment",
    ], "A second charge on {m} is often a temporary authorisation that drops off within 3 business days. If it stays longer, send us both transaction references and we refund it."),
    ("billing", "c", [
        "Do prices include VAT in {c}?",
        "Will I pay import taxes for an order to {c}?",
        "Are customs duties charged for {c}?",
        "How are taxes calculated for customers in {c}?",
    ], "For orders to {c}, taxes and import duties are calculated at checkout and included in the total, so nothing more is due on delivery."),
    ("account", "d", [
        "How do I reset my password on a {d}?",
        "I forgot my password, how do I change it from my {d}?",
        "Password reset is not working on my {d}",
        "Can't log in to the app on my {d}",
    ], "On a {d}, open the app, tap Sign in and then Forgot password. We email a reset link that stays valid for one hour."),
    ("account", "b", [
        "The website does not load in {b}",
        "Your site is broken in {b}",
        "I can't check out using the {b} browser",
        "Pages look wrong in {b}, how do I fix it?",
    ], "If the site misbehaves in {b}, clear the cache and cookies, turn off extensions and make sure {b} is up to date. If it still fails, try a private window."),
    ("account", "d", [
        "How do I turn on two-factor authentication on my {d}?",
        "Can I use my {d} for two-step verification?",
        "Set up 2FA with a {d}",
        "How to enable login codes on a {d}?",
    ], "To turn on two-factor authentication with a {d}, go to Account, Security and choose Authenticator app. Scan the code with your {d} and enter the six-digit number."),
    ("subscriptions", "l", [
        "How do I cancel my {l} membership?",
        "I want to stop my {l} plan",
        "Can I end the {l} subscription at any time?",
        "Cancel {l} membership",
    ], "You can cancel the {l} membership at any time from Account, Membership. It stays active until the end of the current billing period and is not renewed."),
    ("subscriptions", "l", [
        "What is included in the {l} plan?",
        "What are the benefits of the {l} membership?",
        "What do I get with {l}?",
        "Is the {l} plan worth it?",
    ], "The {l} plan includes free express shipping, extended return windows and member-only prices. The full list of benefits is on the Membership page."),
    ("subscriptions", "ll", [
        "How do I switch from {l} to {l2}?",
        "Can I upgrade my {l} plan to {l2}?",
        "Change membership from {l} to {l2}",
        "What happens if I move from {l} to the {l2} plan?",
    ], "To move from {l} to {l2}, open Account, Membership and choose Change plan. The price difference is prorated for the rest of the billing period."),
    ("subscriptions", "s", [
        "How do I skip a delivery of my {s} subscription?",
        "Can I pause the {s} subscription?",
        "I want to skip next month's {s} box",
        "Pause {s} deliveries while I am away",
    ], "You can skip or pause your {s} subscription from Subscriptions up to 2 days before the next shipment. Paused subscriptions resume automatically on the date you choose."),
    ("subscriptions", "s", [
        "How do I change how often my {s} subscription ships?",
        "Can I get the {s} delivery every two months instead?",
        "Change the frequency of my {s} subscription",
        "Make my {s} subscription ship less often",
    ], "Open Subscriptions, select your {s} subscription and choose a new delivery frequency, from every 2 weeks to every 3 months."),
    ("stores", "t", [
        "What are the opening hours of the {t} store?",
        "When does the {t} store open?",
        "Is the {t} shop open late?",
        "Opening times for your {t} location",
    ], "The {t} store is open Monday to Saturday from 9 am to 8 pm and Sunday from 10 am to 6 pm. Hours may change on public holidays."),
    ("stores", "ty", [
        "Is the {t} store open on {y}?",
        "Opening hours of the {t} shop on {y}",
        "Will your {t} location be closed on {y}?",
        "Can I visit the {t} store on {y}?",
    ], "On {y} the {t} store follows holiday hours, usually 10 am to 4 pm. Check the store page the week before for any change."),
    ("stores", "tp", [
        "Does the {t} store have the {p} in stock?",
        "Can I pick up a {p} at the {t} store?",
        "Is the {p} available for pickup in {t}?",
        "Check {p} stock at the {t} location",
    ], "Choose Pick up in store on the {p} page and select {t} to see live stock. Pickup orders are usually ready within two hours."),
    ("gift cards", "m", [
        "Can I buy a gift card with {m}?",
        "Is it possible to pay for gift cards using {m}?",
        "Gift card purchase with {m}",
        "Do you take {m} for e-gift cards?",
    ], "Gift cards can be bought with {m} and most other payment methods, except other gift cards. E-gift cards are emailed within 15 minutes."),
    ("gift cards", "p", [
        "Can I use a gift card to buy the {p}?",
        "Pay for the {p} with a gift card",
        "Does my gift card work for a {p}?",
        "Buying the {p} with store gift card balance",
    ], "Yes, gift card balance can pay for the {p} in full or in part; any remainder is charged to another payment method."),
    ("loyalty", "p", [
        "How many reward points do I get for the {p}?",
        "Do I earn loyalty points when I buy a {p}?",
        "Points earned on a {p} purchase",
        "Will the {p} count towards my rewards?",
    ], "You earn one reward point per dollar spent on the {p}, and double points during member events. Points appear in your account 14 days after delivery."),
    ("product", "pc", [
        "Does the {p} work with the power outlets in {c}?",
        "Can I use my {p} in {c}?",
        "Will the {p} need an adapter in {c}?",
        "Voltage of the {p} for use in {c}",
    ], "The {p} accepts 100 to 240 volts, so it works in {c} with a simple plug adapter; no voltage converter is needed."),
]

# Words a query may drop or add, and fillers put before a query.
FILLERS_BEFORE = ["hi", "hello", "hey there", "quick question", "please help", "excuse me",
                  "good morning", "i have a question", "so", "um"]
FILLERS_AFTER = ["thanks", "thank you", "asap", "please", "any idea", "cheers", "urgent",
                 "help me out"]
DROPPABLE = {"the", "a", "an", "my", "do", "i", "is", "to", "for", "of", "what", "can", "how"}

# Questions no entry covers (support-adjacent or chit-chat), used for out-of-scope recall.
OOS_TEMPLATES = [
    "What is the weather going to be in {t} tomorrow?",
    "Tell me a joke about {x}",
    "Who won the football game last night?",
    "What is the capital of {c}?",
    "Can you recommend a good movie about {x}?",
    "How do I cook pasta al dente?",
    "What time is it in {c} right now?",
    "Write me a poem about {x}",
    "How tall is Mount Everest?",
    "What is your favourite colour?",
    "Translate good morning into the language of {c}",
    "How many calories are in an avocado?",
    "Who is the president of {c}?",
    "What should I name my {x}?",
    "Is it going to rain in {t} this weekend?",
    "How far is the moon from the earth?",
    "Play some relaxing music about {x}",
    "What is the meaning of life?",
    "How do I learn to play guitar?",
    "Set an alarm for seven in the morning",
]
OOS_THINGS = ["cats", "dinosaurs", "the ocean", "pirates", "robots", "penguins", "autumn",
              "space travel", "a goldfish", "a new puppy", "volcanoes", "the sea"]



def make_products(rng, n):
    """n distinct product names: brand + model + type, e.g. 'Nordvik K-340 espresso machine'."""
    seen = set()
    out = []
    while len(out) < n:
        name = "%s %s-%d %s" % (rng.choice(BRANDS), rng.choice(MODEL_PREFIXES),
                                rng.randrange(10, 1000), rng.choice(PRODUCT_TYPES))
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def pick_slots(rng, kinds, products):
    """Slot values for an intent's slot kinds; a repeated kind fills {x2} with a different value."""
    pools = {"i": ISSUES, "c": COUNTRIES, "k": CARRIERS, "m": PAYMENT_METHODS, "l": PLANS,
             "s": SUBSCRIPTIONS, "t": STORES, "d": DEVICES, "b": BROWSERS, "q": PARTS,
             "y": DAYS}
    slots = {}
    for kind in kinds:
        pool = products if kind == "p" else pools[kind]
        if kind in slots:
            while True:
                v = rng.choice(pool)
                if v != slots[kind]:
                    slots[kind + "2"] = v
                    break
        else:
            slots[kind] = rng.choice(pool)
    return slots


def fill(template, slots):
    return template.format(**slots)


def typo(rng, word):
    """One keyboard-style typo in a word of 4+ letters: swap, drop, double or replace a letter."""
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.randrange(4)
    if op == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == 1:
        return word[:i] + word[i + 1:]
    if op == 2:
        return word[:i] + word[i] + word[i:]
    near = "qwertyuiopasdfghjklzxcvbnm"
    return word[:i] + rng.choice(near) + word[i + 1:]


def perturb(rng, text):
    """Lower-case, strip punctuation, and apply a few random edits so queries look typed."""
    words = [w.strip("?,.!") for w in text.lower().split()]
    words = [w for w in words if w]
    # Drop one or two filler words.
    if rng.random() < 0.4:
        for _ in range(rng.randint(1, 2)):
            idx = [j for j, w in enumerate(words) if w in DROPPABLE]
            if idx and len(words) > 4:
                del words[rng.choice(idx)]
    # Reorder: move the tail after a comma-like split point to the front.
    if rng.random() < 0.25 and len(words) > 5:
        cut = rng.randrange(2, len(words) - 2)
        words = words[cut:] + words[:cut]
    # Typos in one or two words.
    if rng.random() < 0.5:
        for _ in range(rng.randint(1, 2)):
            j = rng.randrange(len(words))
            words[j] = typo(rng, words[j])
    if rng.random() < 0.2:
        words = rng.choice(FILLERS_BEFORE).split() + words
    if rng.random() < 0.15:
        words = words + rng.choice(FILLERS_AFTER).split()
    q = " ".join(words)
    if rng.random() < 0.3:
        q += "?"
    return q


def generate(n_entries, n_queries, n_oos, seed):
    rng = random.Random(seed)
    products = make_products(rng, max(2000, n_entries // 4))
    entries = []
    seen = set()
    attempts = 0
    while len(entries) < n_entries:
        attempts += 1
        if attempts > n_entries * 50:
            raise SystemExit("gen_faqs: cannot generate %d distinct entries" % n_entries)
        intent_no = rng.randrange(len(INTENTS))
        category, kinds, templates, answer_t = INTENTS[intent_no]
        slots = pick_slots(rng, kinds, products)
        key = (intent_no, tuple(sorted(slots.items())))
        if key in seen:
            continue
        seen.add(key)
        order = list(range(len(templates)))
        rng.shuffle(order)
        n_alt = rng.choice([0, 1, 1, 2, 2, 2])
        used = order[:1 + n_alt]
        entry = {
            "id": "gen-%06d" % (len(entries) + 1),
            "question": fill(templates[used[0]], slots),
            "answer": fill(answer_t, slots) + " Reference: %s article %d." % (
                category, len(entries) + 1),
            "category": category,
            "alternates": [fill(templates[t], slots) for t in used[1:]],
        }
        entries.append((entry, intent_no, slots, used))

    queries = []
    picks = rng.sample(range(len(entries)), min(n_queries - n_oos, len(entries)))
    for e in picks:
        entry, intent_no, slots, used = entries[e]
        templates = INTENTS[intent_no][2]
        held_out = [t for t in range(len(templates)) if t not in used]
        t = rng.choice(held_out) if held_out else rng.choice(used)
        queries.append({"query": perturb(rng, fill(templates[t], slots)),
                        "expected_id": entry["id"]})
    for _ in range(n_oos):
        q = rng.choice(OOS_TEMPLATES).format(t=rng.choice(STORES), c=rng.choice(COUNTRIES),
                                            x=rng.choice(OOS_THINGS))
        queries.append({"query": perturb(rng, q), "expected_id": None})
    rng.shuffle(queries)
    return [e[0] for e in entries], queries


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=100000)
    ap.add_argument("--queries", type=int, default=2000, help="total queries, OOS included")
    ap.add_argument("--oos", type=int, default=100, help="queries that no FAQ covers")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--out", required=True, help="output directory")
    args = ap.parse_args()
    if args.oos > args.queries:
        ap.error("--oos must not exceed --queries")
    entries, queries = generate(args.entries, args.queries, args.oos, args.seed)
    os.makedirs(args.out, exist_ok=True)
    faqs_path = os.path.join(args.out, "faqs.json")
    with open(faqs_path + ".tmp", "w", encoding="utf-8", newline="\n") as f:
        # One entry a line: readable with grep/head, and a third smaller than indent=1.
        f.write("[\n")
        f.write(",\n".join(json.dumps(e, ensure_ascii=False) for e in entries))
        f.write("\n]\n")
    os.replace(faqs_path + ".tmp", faqs_path)
    q_path = os.path.join(args.out, "dev.jsonl")
    with open(q_path + ".tmp", "w", encoding="utf-8", newline="\n") as f:
        for q in queries:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    os.replace(q_path + ".tmp", q_path)
    print("gen_faqs: wrote %d entries to %s and %d queries (%d out of scope) to %s"
          % (len(entries), faqs_path, len(queries), args.oos, q_path), file=sys.stderr)


if __name__ == "__main__":
    main()
