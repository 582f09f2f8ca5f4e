-- wrk script for bench/http_run.sh: POST /api/v1/chat/{bot_id} with a JSON body and a bearer
-- token, as the seed's clients send it (their own session id in the body).
--
--   wrk ... -s bench/http_chat.lua URL -- BOT_ID TOKEN QUESTIONS_FILE LABEL SLOTS SESSION_TURNS
--
-- Sessions: each wrk thread keeps SLOTS sessions in rotation (SLOTS = the thread's connections),
-- so that each session sees about one request at a time, as one user's would; a session takes
-- SESSION_TURNS turns, then its slot starts a new one (sb_chat_bench's --session-turns, 20).
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
end

function request()
    local slot = n % slots
    local generation = math.floor(n / (slots * session_turns))
    local session = string.format("http-%s-t%d-c%d-s%d", label, tid, slot, generation)
    local q = questions[(n + 7 * tid) % #questions + 1]
    n = n + 1
    local body = '{"message":' .. json_string(q) .. ',"session_id":"' .. session .. '"}'
    return wrk.format("POST", path, headers, body)
end
