-- Headless Neovim (0.7 or later) as a client of `polc lsp`: open one .pol
-- file, wait for the server's diagnostics, ask for a definition, print
-- what Neovim got, and exit 0 (or 1 when the exchange itself failed).
-- Run by tests/lsp/nvim.sh, which documents the environment:
--
--   POL_FILE         the .pol file to open (absolute path)
--   POL_LSP_CMD      the server command, split on whitespace
--                    (default: "$POLC lsp", or "polc lsp")
--   POL_NVIM_CONFIG  instead of starting the client here, source this Lua
--                    file (an editor configuration, e.g. the snippet of
--                    docs/editors.md) and use the client it attaches
--   POL_DEF_LINE, POL_DEF_COL   1-based position of a textDocument/definition
--                    request; none without them
--   POL_TIMEOUT_MS   how long to wait for the client, the diagnostics and
--                    the definition (default 20000)
--   POL_SETTLE_MS    after a publishDiagnostics, wait until none has come
--                    for this long (default 300): servers may publish the
--                    front end's findings first and the verifier's later
--
-- Output, one line each (lines and columns 1-based; columns as Neovim
-- holds them, in bytes):
--   CLIENT NAME                 the client attached to the buffer
--   DIAGNOSTICS N               how many Neovim holds for the buffer
--   DIAG LINE:COL SEVERITY CODE MESSAGE   for each, sorted (newlines in
--                               MESSAGE as \n; CODE `-` when absent)
--   DEF URI LINE:COL            for each definition location; `DEF none`
--   ERROR ...                   and exit 1: the client did not attach,
--                               the server exited, a timeout, an LSP error
local out = io.stdout

local function say(s)
  out:write(s, '\n')
  out:flush()
end

local function env_number(name, default)
  return tonumber(os.getenv(name) or '') or default
end

local timeout = env_number('POL_TIMEOUT_MS', 20000)
local settle = env_number('POL_SETTLE_MS', 300)
local severities = { 'error', 'warning', 'info', 'hint' }

local state = { published = 0, last_publish = 0, exited = nil }

local function words(s)
  local t = {}
  for w in s:gmatch('%S+') do
    t[#t + 1] = w
  end
  return t
end

local function finish(code)
  for _, client in pairs(vim.lsp.get_active_clients()) do
    client.stop()
  end
  vim.wait(3000, function()
    return #vim.lsp.get_active_clients() == 0
  end, 20)
  if code == 0 then
    vim.cmd('qall!')
  else
    vim.cmd('cquit 1')
  end
end

-- A failure of the exchange: main stops, and the handler below prints it.
local function fail(msg)
  error({ pol_error = msg }, 0)
end

local function main()
  local file = os.getenv('POL_FILE')
  if not file or file == '' then
    fail('POL_FILE is not set')
  end
  file = vim.fn.fnamemodify(file, ':p')

  -- Count the publications for this file, then let Neovim handle them as
  -- it always does (vim.diagnostic).
  local default_publish = vim.lsp.handlers['textDocument/publishDiagnostics']
  local function on_publish(err, result, ctx, config)
    if result and vim.uri_to_fname(result.uri) == file then
      state.published = state.published + 1
      state.last_publish = vim.loop.now()
    end
    return default_publish(err, result, ctx, config)
  end

  local config = os.getenv('POL_NVIM_CONFIG')
  local bufnr
  if config and config ~= '' then
    -- An editor configuration starts the client (on FileType, say).
    vim.lsp.handlers['textDocument/publishDiagnostics'] = on_publish
    vim.cmd('luafile ' .. vim.fn.fnameescape(config))
    vim.cmd('edit ' .. vim.fn.fnameescape(file))
    bufnr = vim.api.nvim_get_current_buf()
  else
    vim.cmd('edit ' .. vim.fn.fnameescape(file))
    bufnr = vim.api.nvim_get_current_buf()
    vim.bo[bufnr].filetype = 'pol'
    local cmd = os.getenv('POL_LSP_CMD')
    if not cmd or cmd == '' then
      cmd = (os.getenv('POLC') or 'polc') .. ' lsp'
    end
    local id = vim.lsp.start_client({
      name = 'polc',
      cmd = words(cmd),
      root_dir = vim.fn.fnamemodify(file, ':h'),
      handlers = { ['textDocument/publishDiagnostics'] = on_publish },
      on_exit = function(code, signal)
        state.exited = { code, signal }
      end,
    })
    if not id then
      fail('vim.lsp.start_client failed for `' .. cmd .. '`')
    end
    vim.lsp.buf_attach_client(bufnr, id)
  end

  -- The client: attached to the buffer and initialized.
  local client
  vim.wait(timeout, function()
    for _, c in pairs(vim.lsp.buf_get_clients(bufnr)) do
      if c.initialized then
        client = c
      end
    end
    return client ~= nil or state.exited ~= nil
  end, 20)
  if state.exited then
    fail(string.format('the server exited (code %s, signal %s) before it initialized', state.exited[1], state.exited[2]))
  end
  if not client then
    fail(string.format('no initialized client attached to the buffer in %d ms', timeout))
  end
  if config and config ~= '' then
    client.config.on_exit = function(code, signal)
      state.exited = { code, signal }
    end
  end
  say('CLIENT ' .. client.name)

  -- The diagnostics: the first publication, then quiet for POL_SETTLE_MS.
  local ok = vim.wait(timeout, function()
    return state.exited ~= nil
      or (state.published > 0 and vim.loop.now() - state.last_publish >= settle)
  end, 20)
  if state.exited then
    fail(string.format('the server exited (code %s, signal %s)', state.exited[1], state.exited[2]))
  end
  if not ok then
    fail(string.format('no textDocument/publishDiagnostics for %s in %d ms', file, timeout))
  end
  local diags = vim.diagnostic.get(bufnr)
  table.sort(diags, function(a, b)
    if a.lnum ~= b.lnum then
      return a.lnum < b.lnum
    end
    return a.col < b.col
  end)
  say('DIAGNOSTICS ' .. #diags)
  for _, d in ipairs(diags) do
    say(string.format(
      'DIAG %d:%d %s %s %s',
      d.lnum + 1,
      d.col + 1,
      severities[d.severity] or tostring(d.severity),
      d.code ~= nil and tostring(d.code) or '-',
      (d.message:gsub('\n', '\\n'))
    ))
  end

  -- The definition.
  local line, col = tonumber(os.getenv('POL_DEF_LINE') or ''), tonumber(os.getenv('POL_DEF_COL') or '')
  if line and col then
    local params = {
      textDocument = { uri = vim.uri_from_bufnr(bufnr) },
      position = { line = line - 1, character = col - 1 },
    }
    local responses, err = vim.lsp.buf_request_sync(bufnr, 'textDocument/definition', params, timeout)
    if not responses then
      fail('textDocument/definition: ' .. tostring(err))
    end
    local n = 0
    for _, response in pairs(responses) do
      if response.error then
        fail('textDocument/definition: ' .. vim.inspect(response.error))
      end
      local result = response.result
      if result and (result.uri or result.targetUri) then
        result = { result }
      end
      for _, loc in ipairs(result or {}) do
        local uri = loc.uri or loc.targetUri
        local range = loc.range or loc.targetSelectionRange
        say(string.format('DEF %s %d:%d', uri, range.start.line + 1, range.start.character + 1))
        n = n + 1
      end
    end
    if n == 0 then
      say('DEF none')
    end
  end
  finish(0)
end

local ok, err = xpcall(main, function(e)
  if type(e) == 'table' and e.pol_error then
    return e.pol_error
  end
  return debug.traceback(tostring(e))
end)
if not ok then
  say('ERROR ' .. tostring(err))
  finish(1)
end
