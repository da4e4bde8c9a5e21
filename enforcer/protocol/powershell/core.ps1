# enforcer agent, core: errors, arguments, output, waiting, processes, paths,
# and the op runner. The agent is this file followed by one file per op family
# (the order is enforcer/protocol/agent.py's SCRIPTS), sent as one text.
#
# bootstrap.ps1 dot-sources that text and calls Invoke-EnforcerAgent with the
# request JSON; the answer is one line of ASCII JSON on stdout. It must run on
# Windows PowerShell 5.1, so no PS7-only syntax, and every ConvertTo-Json quirk
# of 5.1 (enums as numbers, unrolled arrays) is dealt with where data is built.

# --- errors -----------------------------------------------------------------

# The kind travels in Exception.Data so that it survives being rethrown and
# wrapped by PowerShell on its way up to the op runner.
function New-OpError {
    param([string]$Kind, [string]$Message)
    $exception = New-Object System.Exception $Message
    $exception.Data['EnforcerKind'] = $Kind
    $exception
}

function Get-ErrorKind {
    param([System.Management.Automation.ErrorRecord]$ErrorRecord)
    for ($e = $ErrorRecord.Exception; $null -ne $e; $e = $e.InnerException) {
        if ($e.Data.Contains('EnforcerKind')) { return $e.Data['EnforcerKind'] }
        if ($e -is [System.UnauthorizedAccessException] -or $e -is [System.Security.SecurityException]) { return 'access_denied' }
        if ($e -is [System.ComponentModel.Win32Exception] -and $e.NativeErrorCode -eq 5) { return 'access_denied' }
        # System.ServiceProcess.TimeoutException does not derive from System.TimeoutException.
        if ($e -is [System.TimeoutException] -or $e.GetType().FullName -eq 'System.ServiceProcess.TimeoutException') { return 'timeout' }
        if ($e -is [System.Management.Automation.ItemNotFoundException]) { return 'not_found' }
    }
    switch ($ErrorRecord.CategoryInfo.Category.ToString()) {
        'PermissionDenied' { return 'access_denied' }
        'ObjectNotFound' { return 'not_found' }
    }
    'failed'
}

# .NET calls arrive wrapped in 'Exception calling "X" with "N" argument(s)';
# the wrapped exception says what actually went wrong.
function Get-ErrorMessage {
    param([System.Management.Automation.ErrorRecord]$ErrorRecord)
    $exception = $ErrorRecord.Exception
    while ($exception -is [System.Management.Automation.MethodInvocationException] -and $null -ne $exception.InnerException) {
        $exception = $exception.InnerException
    }
    $message = $exception.Message
    $inner = $exception.InnerException
    if ($null -ne $inner -and -not $exception.Data.Contains('EnforcerKind') -and -not $message.Contains($inner.Message)) {
        $message = "$message ($($inner.Message))"
    }
    $message
}

# --- arguments --------------------------------------------------------------

function Test-IsNumber {
    param($Value)
    $Value -is [int] -or $Value -is [long] -or $Value -is [double] -or $Value -is [decimal]
}

function Test-IsInteger {
    param($Value)
    $Value -is [int] -or $Value -is [long] -or ($Value -is [decimal] -and [math]::Truncate($Value) -eq $Value)
}

# Reads one op argument from a PSCustomObject (the request) or a hashtable (an
# op calling another op). -As names the argument's type as the catalogue's
# schema has it (enforcer/simulator/ops/common.py checks the same names). The
# leading comma stops PowerShell from unrolling a list value on the way out, so
# one-element and empty lists stay lists.
function Get-Arg {
    param($From, [string]$Name, $Default = $null, [switch]$Required, [string]$As = 'any')
    $value = $null
    if ($From -is [System.Collections.IDictionary]) {
        if ($From.Contains($Name)) { $value = $From[$Name] }
    } elseif ($null -ne $From -and $null -ne $From.PSObject.Properties[$Name]) {
        $value = $From.PSObject.Properties[$Name].Value
    }
    if ($null -eq $value) {
        if ($Required) { throw (New-OpError 'invalid_args' "missing argument '$Name'") }
        return , $Default
    }
    $valid = $true
    switch ($As) {
        'string' {
            $valid = $value -is [string] -and $value -ne ''
            $expected = 'a non-empty string'
        }
        'number' {
            $valid = Test-IsNumber $value
            $expected = 'a number'
        }
        'integer' {
            $valid = Test-IsInteger $value
            $expected = 'an integer'
        }
        'boolean' {
            $valid = $value -is [bool]
            $expected = 'true or false'
        }
        'object' {
            $valid = $value -is [System.Management.Automation.PSCustomObject] -or $value -is [System.Collections.IDictionary]
            $expected = 'an object'
        }
        'strings' {
            $valid = $value -is [array] -and @($value | Where-Object { $_ -isnot [string] }).Count -eq 0
            $expected = 'a list of strings'
        }
        'integers' {
            $valid = $value -is [array] -and @($value | Where-Object { -not (Test-IsInteger $_) }).Count -eq 0
            $expected = 'a list of integers'
        }
    }
    if (-not $valid) { throw (New-OpError 'invalid_args' "argument '$Name' must be $expected") }
    return , $value
}

function ConvertFrom-IsoTime {
    param([string]$Text, [string]$Name)
    $parsed = [datetime]::MinValue
    $styles = [Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal'
    if (-not [datetime]::TryParse($Text, [Globalization.CultureInfo]::InvariantCulture, $styles, [ref]$parsed)) {
        throw (New-OpError 'invalid_args' "argument '$Name' must be an ISO 8601 time, got '$Text'")
    }
    $parsed
}

# --- output -----------------------------------------------------------------

# Escaping everything outside ASCII makes the console codepage irrelevant.
function ConvertTo-AsciiJson {
    param($InputObject)
    $json = ConvertTo-Json -InputObject $InputObject -Depth 12 -Compress
    $escape = [System.Text.RegularExpressions.MatchEvaluator]{ param($m) '\u{0:x4}' -f [int][char]$m.Value }
    [regex]::Replace($json, '[^\x00-\x7F]', $escape)
}

# --- waiting and processes --------------------------------------------------

function Wait-Until {
    param([scriptblock]$Condition, [datetime]$Deadline, [string]$What)
    while (-not (& $Condition)) {
        if ([DateTime]::UtcNow -ge $Deadline) { throw (New-OpError 'timeout' "timed out waiting for $What") }
        Start-Sleep -Milliseconds 500
    }
}

function Get-Deadline {
    param([double]$Seconds)
    [DateTime]::UtcNow.AddSeconds($Seconds)
}

# Under ErrorActionPreference Stop, PS 5.1 turns a native command's stderr
# into a terminating error (reg.exe import reports success on stderr), so the
# preference is relaxed here and the exit code decides.
function Invoke-Native {
    param([string]$FilePath, [string[]]$ArgumentList)
    $ErrorActionPreference = 'Continue'
    $lines = & $FilePath @ArgumentList 2>&1 | ForEach-Object { "$_" }
    [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = (@($lines) -join "`n").Trim() }
}

function Assert-NativeSuccess {
    param([string]$What, $Result)
    if ($Result.ExitCode -eq 0) { return }
    $kind = 'failed'
    if ($Result.Output -match 'Access is denied') { $kind = 'access_denied' }
    throw (New-OpError $kind "$What exited with code $($Result.ExitCode): $($Result.Output)")
}

# Start-Process -ArgumentList joins its items with spaces and no quoting, so
# arguments with spaces are quoted here by the CommandLineToArgvW rules.
function Join-CommandLine {
    param([string[]]$Arguments)
    $quoted = foreach ($argument in $Arguments) {
        if ($argument -eq '' -or $argument -match '[\s"]') {
            '"' + (($argument -replace '(\\*)"', '$1$1\"') -replace '(\\+)$', '$1$1') + '"'
        } else {
            $argument
        }
    }
    $quoted -join ' '
}

# Start-Process (shell execute) lets .msu and .msi installers open with their
# handlers. A timeout does not kill the installer here, but it belongs to the
# WinRS shell's job: when the client terminates the command or deletes the
# shell, it dies with them, possibly half-way (windows-facts §5.3), and the
# engine re-reads the node before it tries again.
function Invoke-Process {
    param([string]$FilePath, [string[]]$ArgumentList, [double]$TimeoutSeconds)
    $start = @{ FilePath = $FilePath; PassThru = $true }
    if ($ArgumentList.Count -gt 0) { $start.ArgumentList = Join-CommandLine $ArgumentList }
    $process = Start-Process @start
    # Without a handle taken while the process runs, ExitCode reads as null.
    $null = $process.Handle
    if (-not $process.WaitForExit([int][math]::Min($TimeoutSeconds * 1000, [int]::MaxValue))) {
        throw (New-OpError 'timeout' "$FilePath still running after $TimeoutSeconds s (it dies with this command's shell)")
    }
    $process.ExitCode
}

# --- paths ------------------------------------------------------------------

# .NET APIs resolve relative paths against the process directory, not the
# PowerShell location; this also works for paths that do not exist yet.
function Resolve-FullPath {
    param([string]$Path)
    $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
}

# A cluster disk owned by another node has no drive letter here. Its paths
# are unknown rather than absent, which Test-Path alone cannot tell apart.
function Assert-PathReachable {
    param([string]$Path)
    if ($Path -match '^([A-Za-z]):' -and -not (Test-Path -LiteralPath "$($Matches[1]):\")) {
        throw (New-OpError 'unavailable' "The device is not ready: drive $($Matches[1].ToUpperInvariant()): is not present on this node")
    }
}

function New-ParentFolder {
    param([string]$Path)
    $parent = [System.IO.Path]::GetDirectoryName((Resolve-FullPath $Path))
    if ($parent -and -not (Test-Path -LiteralPath $parent)) { $null = New-Item -ItemType Directory -Path $parent -Force }
}

# --- the op runner ----------------------------------------------------------

function Invoke-EnforcerAgent {
    param([string]$RequestJson)
    $ErrorActionPreference = 'Stop'
    # Progress, warning and verbose records would reach the client's stdout
    # or stderr through the console host.
    $ProgressPreference = 'SilentlyContinue'
    $WarningPreference = 'SilentlyContinue'
    $VerbosePreference = 'SilentlyContinue'

    $request = ConvertFrom-Json -InputObject $RequestJson
    if ($request.v -ne 1) { throw "unsupported request version '$($request.v)'" }
    if ($request.ops -isnot [array]) { throw "request has no 'ops' list" }
    $stopOnError = (Get-Arg $request 'stop_on_error' $false) -eq $true

    $results = New-Object System.Collections.ArrayList
    $failed = $false
    foreach ($op in $request.ops) {
        $id = Get-Arg $op 'id'
        if ($failed -and $stopOnError) {
            $null = $results.Add([ordered]@{ id = $id; ok = $false; error = [ordered]@{ kind = 'failed'; message = 'skipped: an earlier op failed' } })
            continue
        }
        try {
            $name = Get-Arg $op 'op'
            if ($name -isnot [string] -or @($script:EnforcerOps.Keys) -cnotcontains $name) {
                throw (New-OpError 'unknown_op' "unknown op '$name'")
            }
            $data = & $script:EnforcerOps[$name] (Get-Arg $op 'args')
            $null = $results.Add([ordered]@{ id = $id; ok = $true; data = $data })
        } catch {
            $failed = $true
            $null = $results.Add([ordered]@{ id = $id; ok = $false; error = [ordered]@{ kind = (Get-ErrorKind $_); message = (Get-ErrorMessage $_) } })
        }
    }
    [Console]::Out.WriteLine((ConvertTo-AsciiJson ([ordered]@{ v = 1; results = $results.ToArray() })))
    [Console]::Out.Flush()
}

# --- the ops ------------------------------------------------------------------
# Each family file registers its ops here, one $script:EnforcerOps['name']
# assignment per op. Each op takes its args object and returns one ordered
# dictionary (the op's data) or throws New-OpError. Lists are built with @()
# inside the dictionary so they stay lists in the JSON whatever their length.

$script:EnforcerOps = @{}
