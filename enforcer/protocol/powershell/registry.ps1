# enforcer agent, registry ops: registry.get, .export, .remove, .set, .import.

$script:RegistryHives = [ordered]@{
    HKLM = 'HKEY_LOCAL_MACHINE'
    HKCU = 'HKEY_CURRENT_USER'
    HKCR = 'HKEY_CLASSES_ROOT'
    HKU  = 'HKEY_USERS'
    HKCC = 'HKEY_CURRENT_CONFIG'
}

$script:RegistryTypes = @{
    String       = 'REG_SZ'
    ExpandString = 'REG_EXPAND_SZ'
    Binary       = 'REG_BINARY'
    DWord        = 'REG_DWORD'
    MultiString  = 'REG_MULTI_SZ'
    QWord        = 'REG_QWORD'
    None         = 'REG_NONE'
    Unknown      = 'REG_UNKNOWN'
}

# 'HKLM\Software\X' -> 'HKEY_LOCAL_MACHINE\Software\X': reg.exe takes it as is
# and the Registry:: provider prefix reaches every hive, drive or not.
function ConvertTo-RegNativePath {
    param([string]$Path)
    $hive, $rest = $Path.Trim().TrimEnd('\') -split '\\', 2
    $hive = $hive.TrimEnd(':').ToUpperInvariant()
    if ($script:RegistryHives.Contains($hive)) {
        $hive = $script:RegistryHives[$hive]
    } elseif (@($script:RegistryHives.Values) -notcontains $hive) {
        throw (New-OpError 'invalid_args' "unknown registry hive in '$Path'")
    }
    if ($rest) { "$hive\$rest" } else { $hive }
}

function ConvertTo-RegShortPath {
    param([string]$NativePath)
    foreach ($short in $script:RegistryHives.Keys) {
        $long = $script:RegistryHives[$short]
        if ($NativePath -eq $long -or $NativePath.StartsWith("$long\", [StringComparison]::OrdinalIgnoreCase)) {
            return $short + $NativePath.Substring($long.Length)
        }
    }
    $NativePath
}

# DWORD and QWORD read back signed; the registry means them unsigned.
# Binary data (and types .NET does not know) is given as a hex string.
function ConvertTo-RegValueData {
    param([Microsoft.Win32.RegistryKey]$Key, [string]$Name)
    $kind = $Key.GetValueKind($Name).ToString()
    $raw = $Key.GetValue($Name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
    if ($raw -is [byte[]]) {
        $data = [BitConverter]::ToString($raw).Replace('-', '').ToLowerInvariant()
    } elseif ($kind -eq 'DWord') {
        $data = [BitConverter]::ToUInt32([BitConverter]::GetBytes([int]$raw), 0)
    } elseif ($kind -eq 'QWord') {
        $data = [BitConverter]::ToUInt64([BitConverter]::GetBytes([long]$raw), 0)
    } elseif ($kind -eq 'MultiString') {
        $data = @($raw)
    } else {
        $data = $raw
    }
    [ordered]@{ type = $script:RegistryTypes[$kind]; data = $data }
}

$script:EnforcerOps['registry.get'] = {
    param($a)
    $native = ConvertTo-RegNativePath (Get-Arg $a 'path' -Required -As string)
    $path = ConvertTo-RegShortPath $native
    $key = "Registry::$native"
    if (-not (Test-Path -LiteralPath $key)) {
        return [ordered]@{ path = $path; exists = $false; values = [ordered]@{}; subkeys = @() }
    }
    $item = Get-Item -LiteralPath $key
    $values = [ordered]@{}
    foreach ($valueName in $item.GetValueNames()) { $values[$valueName] = ConvertTo-RegValueData $item $valueName }
    [ordered]@{ path = $path; exists = $true; values = $values; subkeys = @($item.GetSubKeyNames()) }
}

$script:EnforcerOps['registry.export'] = {
    param($a)
    $native = ConvertTo-RegNativePath (Get-Arg $a 'path' -Required -As string)
    $path = ConvertTo-RegShortPath $native
    $dest = Get-Arg $a 'dest' -Required -As string
    Assert-PathReachable $dest
    if (-not (Test-Path -LiteralPath "Registry::$native")) {
        return [ordered]@{ path = $path; dest = $dest; exported = $false; bytes = 0 }
    }
    $file = Resolve-FullPath $dest
    New-ParentFolder $file
    Assert-NativeSuccess 'reg.exe export' (Invoke-Native 'reg.exe' @('export', $native, $file, '/y'))
    [ordered]@{ path = $path; dest = $dest; exported = $true; bytes = (Get-Item -LiteralPath $file -Force).Length }
}

$script:EnforcerOps['registry.remove'] = {
    param($a)
    $native = ConvertTo-RegNativePath (Get-Arg $a 'path' -Required -As string)
    $path = ConvertTo-RegShortPath $native
    $key = "Registry::$native"
    $existed = Test-Path -LiteralPath $key
    if ($existed) { Remove-Item -LiteralPath $key -Recurse -Force }
    [ordered]@{ path = $path; existed = $existed }
}

$script:EnforcerOps['registry.set'] = {
    param($a)
    $native = ConvertTo-RegNativePath (Get-Arg $a 'path' -Required -As string)
    $values = Get-Arg $a 'values' -Required -As object
    $key = "Registry::$native"
    $kinds = @{ REG_SZ = 'String'; REG_EXPAND_SZ = 'ExpandString'; REG_DWORD = 'DWord'; REG_QWORD = 'QWord'; REG_MULTI_SZ = 'MultiString' }
    # Check every value before writing any, so a bad one leaves the key untouched.
    $writes = @(foreach ($property in $values.PSObject.Properties) {
            $type = Get-Arg $property.Value 'type' 'REG_SZ' -As string
            if (-not $kinds.ContainsKey($type)) { throw (New-OpError 'invalid_args' "unsupported registry type '$type' for value '$($property.Name)'") }
            , @($property.Name, $kinds[$type], (Get-Arg $property.Value 'data' -Required))
        })
    $created = -not (Test-Path -LiteralPath $key)
    if ($created) { $null = New-Item -Path $key -Force }
    foreach ($write in $writes) {
        $null = New-ItemProperty -LiteralPath $key -Name $write[0] -PropertyType $write[1] -Value $write[2] -Force
    }
    [ordered]@{ path = (ConvertTo-RegShortPath $native); created = $created }
}

$script:EnforcerOps['registry.import'] = {
    param($a)
    $file = Get-Arg $a 'file' -Required -As string
    Assert-PathReachable $file
    if (-not (Test-Path -LiteralPath $file -PathType Leaf)) { throw (New-OpError 'not_found' "no such file: $file") }
    $fullPath = Resolve-FullPath $file
    # reg.exe does not say what it wrote; the file's sections do. [-KEY]
    # sections delete a key, so they are not keys the import writes.
    $keys = @(foreach ($line in [System.IO.File]::ReadAllLines($fullPath)) {
            $section = [regex]::Match($line, '^\[([^-\]][^\]]*)\]\s*$')
            if ($section.Success) { ConvertTo-RegShortPath $section.Groups[1].Value }
        })
    Assert-NativeSuccess 'reg.exe import' (Invoke-Native 'reg.exe' @('import', $fullPath))
    [ordered]@{ file = $file; imported = $true; keys = $keys }
}
