# enforcer agent, path ops: path.get, .archive, .remove, .restore.

$script:EnforcerOps['path.get'] = {
    param($a)
    $path = Get-Arg $a 'path' -Required -As string
    $hash = Get-Arg $a 'sha256' $false -As boolean
    Assert-PathReachable $path
    if (-not (Test-Path -LiteralPath $path)) {
        return [ordered]@{ path = $path; exists = $false; type = $null; size = 0; items = 0; modified = $null; sha256 = $null }
    }
    $sha256 = $null
    $item = Get-Item -LiteralPath $path -Force
    if ($item.PSIsContainer) {
        # Size and item count cover everything under a folder.
        $type = 'directory'
        $size = [long]0
        $items = 0
        foreach ($child in @(Get-ChildItem -LiteralPath $item.FullName -Recurse -Force)) {
            $items++
            if (-not $child.PSIsContainer) { $size += $child.Length }
        }
    } else {
        $type = 'file'
        $size = $item.Length
        $items = 0
        if ($hash) { $sha256 = (Get-FileHash -LiteralPath $item.FullName -Algorithm SHA256).Hash.ToLowerInvariant() }
    }
    [ordered]@{ path = $path; exists = $true; type = $type; size = $size; items = $items; modified = $item.LastWriteTimeUtc.ToString('o'); sha256 = $sha256 }
}

$script:EnforcerOps['path.archive'] = {
    param($a)
    $path = Get-Arg $a 'path' -Required -As string
    $dest = Get-Arg $a 'dest' -Required -As string
    Assert-PathReachable $path
    Assert-PathReachable $dest
    if (-not (Test-Path -LiteralPath $path)) {
        return [ordered]@{ path = $path; dest = $dest; archived = $false; bytes = 0 }
    }
    $source = Get-Item -LiteralPath $path -Force
    $zipPath = Resolve-FullPath $dest
    New-ParentFolder $zipPath
    if (Test-Path -LiteralPath $zipPath) { Remove-Item -LiteralPath $zipPath -Force }
    # ZipFile rather than Compress-Archive: PS 5.1's Compress-Archive leaves
    # out hidden files. The item itself is the archive's root entry, so
    # path.restore into the parent puts it back in place.
    Add-Type -AssemblyName 'System.IO.Compression', 'System.IO.Compression.FileSystem'
    if ($source.PSIsContainer) {
        [System.IO.Compression.ZipFile]::CreateFromDirectory($source.FullName, $zipPath, [System.IO.Compression.CompressionLevel]::Optimal, $true)
    } else {
        $zip = [System.IO.Compression.ZipFile]::Open($zipPath, [System.IO.Compression.ZipArchiveMode]::Create)
        try {
            $null = [System.IO.Compression.ZipFileExtensions]::CreateEntryFromFile($zip, $source.FullName, $source.Name)
        } finally {
            $zip.Dispose()
        }
    }
    [ordered]@{ path = $path; dest = $dest; archived = $true; bytes = (Get-Item -LiteralPath $zipPath -Force).Length }
}

$script:EnforcerOps['path.remove'] = {
    param($a)
    $path = Get-Arg $a 'path' -Required -As string
    Assert-PathReachable $path
    $existed = Test-Path -LiteralPath $path
    if ($existed) { Remove-Item -LiteralPath $path -Recurse -Force }
    [ordered]@{ path = $path; existed = $existed }
}

$script:EnforcerOps['path.restore'] = {
    param($a)
    $archive = Get-Arg $a 'archive' -Required -As string
    $dest = Get-Arg $a 'dest' -Required -As string
    Assert-PathReachable $archive
    Assert-PathReachable $dest
    if (-not (Test-Path -LiteralPath $archive -PathType Leaf)) { throw (New-OpError 'not_found' "no such archive: $archive") }
    if (-not (Test-Path -LiteralPath $dest)) { $null = New-Item -ItemType Directory -Path $dest -Force }
    Expand-Archive -LiteralPath $archive -DestinationPath $dest -Force
    [ordered]@{ archive = $archive; dest = $dest; restored = $true }
}
