-- nauthilus_util for nauthilus-rs: the helper functions Nauthilus plugins require, written for
-- this project from the function list in lua-api.md. A nauthilus_util.lua found on
-- package.path (for example the one shipped with Nauthilus) is used instead of this one.

local M = {}

local json = require("json")
local time = require("time")
local cache = require("nauthilus_cache")

function M.getenv(name, default)
    local key = "env:" .. name
    local cached = cache.cache_get(key)
    if cached ~= nil then
        return cached
    end
    local value = os.getenv(name)
    if value == nil or value == "" then
        value = default
    end
    if value ~= nil then
        cache.cache_set(key, value)
    end
    return value
end

function M.exists_in_table(tbl, element)
    if type(tbl) ~= "table" then
        return false
    end
    for _, v in pairs(tbl) do
        if v == element then
            return true
        end
    end
    return false
end

function M.get_current_timestamp()
    return time.format(time.unix(), "2006-01-02T15:04:05 -07:00", "UTC")
end

function M.table_length(tbl)
    local n = 0
    for _ in pairs(tbl or {}) do
        n = n + 1
    end
    return n
end

function M.if_error_raise(err)
    if err ~= nil and err ~= "redis: nil" then
        error(err)
    end
end

function M.is_table(v) return type(v) == "table" end
function M.is_string(v) return type(v) == "string" end
function M.is_number(v) return type(v) == "number" end

function M.get_redis_key(request, key)
    local prefix = ""
    if type(request) == "table" and request.redis_prefix ~= nil then
        prefix = request.redis_prefix
    end
    return prefix .. key
end

function M.toboolean(v)
    if type(v) == "boolean" then
        return v
    end
    if type(v) == "number" then
        return v ~= 0
    end
    if type(v) == "string" then
        local s = string.lower(v)
        return s == "true" or s == "1" or s == "yes" or s == "on"
    end
    return false
end

function M.generate_random_string(length)
    local alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    local out = {}
    for i = 1, (length or 16) do
        local j = math.random(1, #alphabet)
        out[i] = string.sub(alphabet, j, j)
    end
    return table.concat(out)
end

local function ipv4_octets(ip)
    local a, b, c, d = string.match(ip or "", "^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    if a == nil then
        return nil
    end
    return tonumber(a), tonumber(b), tonumber(c), tonumber(d)
end

function M.is_routable_ip(ip)
    if ip == nil or ip == "" then
        return false
    end
    local a, b = ipv4_octets(ip)
    if a ~= nil then
        if a == 10 or a == 127 or a == 0 or a >= 224 then return false end
        if a == 172 and b >= 16 and b <= 31 then return false end
        if a == 192 and b == 168 then return false end
        if a == 169 and b == 254 then return false end
        if a == 100 and b >= 64 and b <= 127 then return false end
        return true
    end
    local lower = string.lower(ip)
    if lower == "::1" or lower == "::" then return false end
    if string.sub(lower, 1, 4) == "fe80" then return false end
    local first = string.sub(lower, 1, 2)
    if first == "fc" or first == "fd" then return false end
    return string.find(lower, ":", 1, true) ~= nil
end

local function render(logging, level, tbl, err)
    local out = {}
    for k, v in pairs(tbl or {}) do
        out[k] = v
    end
    out.ts = M.get_current_timestamp()
    out.level = level
    if err ~= nil then
        out.error = tostring(err)
    end
    if type(logging) == "table" and logging.log_format == "json" then
        local s = json.encode(out)
        print(s)
        return
    end
    local keys = {}
    for k in pairs(out) do
        keys[#keys + 1] = k
    end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do
        parts[#parts + 1] = k .. "=" .. string.format("%q", tostring(out[k]))
    end
    print(table.concat(parts, " "))
end

function M.print_result(logging, tbl, err)
    render(logging, err ~= nil and "error" or "info", tbl, err)
end

function M.log(logging, level, tbl, err)
    render(logging, level, tbl, err)
end

function M.log_debug(logging, tbl) render(logging, "debug", tbl) end
function M.log_info(logging, tbl) render(logging, "info", tbl) end
function M.log_notice(logging, tbl) render(logging, "notice", tbl) end
function M.log_warn(logging, tbl) render(logging, "warn", tbl) end
function M.log_error(logging, tbl, err) render(logging, "error", tbl, err) end

return M
