# enforcer-agent-bootstrap v1
# Sent as -EncodedCommand, so it stays short; the agent and the request come
# on stdin as two base64 lines, which keeps stdin ASCII whatever the console
# codepage and keeps the agent off the length-capped command line. The agent
# is gzipped (GZipStream is in System.dll since .NET 2.0). Exactly two lines
# are read, so a client that leaves stdin open cannot hang us.
$ErrorActionPreference = 'Stop'
try {
    $utf8 = New-Object System.Text.UTF8Encoding $false, $true
    $readLine = {
        $line = [Console]::In.ReadLine()
        if (-not $line) { throw 'stdin must hold two base64 lines: the agent (gzipped), then the request' }
        $line
    }
    $packed = New-Object System.IO.MemoryStream -ArgumentList (, [Convert]::FromBase64String((& $readLine)))
    $gunzip = New-Object System.IO.Compression.GZipStream -ArgumentList $packed, ([IO.Compression.CompressionMode]::Decompress)
    $agentText = (New-Object System.IO.StreamReader -ArgumentList $gunzip, $utf8).ReadToEnd().TrimStart([char]0xFEFF)
    $requestText = $utf8.GetString([Convert]::FromBase64String((& $readLine))).TrimStart([char]0xFEFF)
    . ([ScriptBlock]::Create($agentText))
    Invoke-EnforcerAgent -RequestJson $requestText
} catch {
    [Console]::Error.WriteLine("enforcer-agent: $($_.Exception.Message)")
    exit 2
}
exit 0
