-- wrk script for bench/http_run.sh: POST /api/v1/chat/{bot_id} with a JSON body and a bearer
-- token, as the seed's clients send it (their own session id in the body).
--
--   wrk ... -s bench/http_chat.lua URL -- BOT_ID TOKEN QUESTIONS_FILE LABEL SLOTS SESSION_TURNS
--
-- Sessions: as one user per connection. Each request takes a session slot that has no request in
-- flight (the response's session_id frees its slot), so a session never sees two requests at
-- once, and a connection in practice keeps one slot; a slot's session takes SESSION_TURNS turns,
-- then the slot starts a new one (sb_chat_bench's --session-turns, 20). SLOTS (the thread's
-- connections) slots to begin with; more only if a response never came back.
-- Questions: the lines of QUESTIONS_FILE (sb_chat_bench's list), each thread from its own offset.
-- LABEL makes the session ids of one run unique in the database.

local threads = {}

function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end

local function json_string(s)
    s = s:gsub('[%c"\\]', function(c)
        if c == '"' then return '\\"' end
        if c == "\\" then return "\\\\" end
        return string.format("\\u%04x", string.byte(c))
    end)
    return '"' .. s .. '"'
end

function init(args)
    bot, token, questions_file, label = args[1], args[2], args[3], args[4]
    slots = tonumber(args[5]) or 1
    session_turns = tonumber(args[6]) or 20
    questions = {}
    for line in io.lines(questions_file) do
        if line ~= "" then table.insert(questions, line) end
    end
    assert(#questions > 0, "no questions in " .. questions_file)
    path = "/api/v1/chat/" .. bot
    headers = {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. token,
    }
    n = 0
    free = {}      -- slots with no request in flight (a stack: the slot just freed goes next)
    turns = {}     -- turns taken by each slot's current session
    gen = {}       -- each slot's session generation
    by_session = {}
    nslots = 0
    for k = 1, slots do
        nslots = nslots + 1
        turns[nslots], gen[nslots] = 0, 0
        table.insert(free, nslots)
    end
end

local function session_of(slot)
    return string.format("http-%s-t%d-c%d-s%d", label, tid, slot, gen[slot])
end

function response(status, headers, body)
    local id = body and body:match('"session_id":"([^"]*)"')
    local slot = id and by_session[id]
    if slot then
        by_session[id] = nil
        table.insert(free, slot)
    end
end

function request()
    local slot = table.remove(free)
    if not slot then
        nslots = nslots + 1
        slot = nslots
        turns[slot], gen[slot] = 0, 0
    end
    if turns[slot] >= session_turns then
        turns[slot], gen[slot] = 0, gen[slot] + 1
    end
    turns[slot] = turns[slot] + 1
    local session = session_of(slot)
    by_session[session] = slot
    local q = questions[(n + 7 * tid) % #questions + 1]
    n = n + 1
    local body = '{"message":' .. json_string(q) .. ',"session_id":"' .. session .. '"}'
    return wrk.format("POST", path, headers, body)
end
