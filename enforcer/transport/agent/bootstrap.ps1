# enforcer-agent-bootstrap v1
# Sent as -EncodedCommand, so it stays short; the agent and the request come
# on stdin as two base64 lines, which keeps stdin ASCII whatever the console
# codepage and keeps the agent off the length-capped command line. Exactly two
# lines are read, so a client that leaves stdin open cannot hang us.
$ErrorActionPreference = 'Stop'
try {
    $utf8 = New-Object System.Text.UTF8Encoding $false, $true
    $decode = {
        $line = [Console]::In.ReadLine()
        if (-not $line) { throw 'stdin must hold two base64 lines: the agent, then the request' }
        $utf8.GetString([Convert]::FromBase64String($line)).TrimStart([char]0xFEFF)
    }
    $agentText = & $decode
    $requestText = & $decode
    . ([ScriptBlock]::Create($agentText))
    Invoke-EnforcerAgent -RequestJson $requestText
} catch {
    [Console]::Error.WriteLine("enforcer-agent: $($_.Exception.Message)")
    exit 2
}
exit 0
